// A relying party on panva's openid-client (npm), driven by the suite one JSON line at a time.
// The first line configures it: {"issuer", "client_id", "client_secret"}; each following line is a
// command, and each gets one JSON line back:
//   {"op": "exchange", "callback", "verifier", "state", "nonce"}  the code flow's second half: the
//       ID token checked against the JWKS (cached by the library between commands), then userinfo
//   {"op": "refresh", "refresh_token"}    a refresh (the ID token checked again)
//   {"op": "revoke", "token", "hint"}     RFC 7009
// An error answers {"error": its code, "message"}.
import * as client from 'openid-client';
import readline from 'node:readline';

const lines = readline.createInterface({ input: process.stdin });
let config = null;

function answer(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function run(command) {
  if (command.op === 'exchange') {
    const tokens = await client.authorizationCodeGrant(config, new URL(command.callback), {
      pkceCodeVerifier: command.verifier,
      expectedState: command.state,
      expectedNonce: command.nonce,
    });
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    return { claims, userinfo, refresh_token: tokens.refresh_token, access_token: tokens.access_token };
  }
  if (command.op === 'refresh') {
    const tokens = await client.refreshTokenGrant(config, command.refresh_token);
    return { claims: tokens.claims(), refresh_token: tokens.refresh_token, access_token: tokens.access_token };
  }
  if (command.op === 'revoke') {
    await client.tokenRevocation(config, command.token, { token_type_hint: command.hint });
    return { revoked: true };
  }
  throw new Error(`unknown op ${command.op}`);
}

for await (const line of lines) {
  try {
    const message = JSON.parse(line);
    if (config === null) {
      config = await client.discovery(new URL(message.issuer), message.client_id, message.client_secret, undefined, {
        execute: [client.allowInsecureRequests], // the suite's Bastion listens on http://127.0.0.1
      });
      answer({ ready: true, issuer: config.serverMetadata().issuer });
    } else {
      answer(await run(message));
    }
  } catch (error) {
    // A server's error answer carries its OAuth error ("invalid_grant") in error.error.
    answer({ error: error.code || error.name, oauth_error: error.error, message: String(error.message || error) });
  }
}
