"""The sandbox's signing key, its JWKS, and EVE-shaped access tokens (RS256 JWTs)."""

import base64
import json
import secrets
import time

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

KEY_ID = "JWT-Signature-Key"
ACCESS_TOKEN_LIFETIME_S = 1199


class SigningKey:
    """An RSA key pair that signs access tokens and is published as a JWKS."""

    def __init__(self, private_key=None, kid=KEY_ID):
        self.private_key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.private_key.public_key()
        self.kid = kid
        # The JWT header never changes: encoded once.
        self._header = _b64(
            json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}, separators=(",", ":")).encode()
        )

    @classmethod
    def from_pem(cls, pem, kid=KEY_ID):
        """Load a key saved with to_pem."""
        return cls(serialization.load_pem_private_key(pem.encode(), password=None), kid)

    def to_pem(self):
        """The private key as PEM text, for the state file."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def jwks(self):
        """The public half as a JSON Web Key Set."""
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk], "SkipUnresolvedJsonWebKeys": True}

    def sign(self, claims, headers=None):
        """Sign claims as an RS256 JWT carrying this key's kid."""
        if headers:  # an unusual header (tests of the client's checks): PyJWT builds it
            return jwt.encode(
                claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, **headers}
            )
        signing_input = self._header + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return (signing_input + b"." + _b64(signature)).decode()

    def verify(self, token, audience):
        """Decode a token this key signed; raises jwt.InvalidTokenError when it is not valid."""
        return jwt.decode(
            token,
            self.public_key,
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["exp", "sub", "aud"]},
        )


def _b64(data):
    """Unpadded base64url, as JWTs use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def access_token_claims(issuer, character, client_id, scopes, now=None):
    """The claims EVE SSO puts in an access token."""
    now = int(time.time() if now is None else now)
    return {
        "scp": scopes[0] if len(scopes) == 1 else list(scopes),
        "jti": secrets.token_hex(16),
        "kid": KEY_ID,
        "sub": f"CHARACTER:EVE:{character.id}",
        "azp": client_id,
        "tenant": "tranquility",
        "tier": "live",
        "region": "world",
        "aud": [client_id, "EVE Online"],
        "name": character.name,
        "owner": character.owner_hash,
        "exp": now + ACCESS_TOKEN_LIFETIME_S,
        "iat": now,
        "iss": issuer,
    }
