"""Access tokens are verified: forged, expired, wrong-audience, wrong-issuer and alg none are refused."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.eve.errors import InvalidToken
from app.eve.jwt_check import JwksCache, accepted_issuers, verify_access_token
from sandbox.tokens import SigningKey, access_token_claims
from tests.support import TEST_CLIENT_ID


class Pilot:
    id = 2117000001
    name = "Aria Vex"
    owner_hash = "owner-1="


@pytest.fixture()
def key():
    return SigningKey()


@pytest.fixture()
def jwks(key):
    return JwksCache(key.jwks)


def claims(**changes):
    data = access_token_claims("http://sso.test", Pilot, TEST_CLIENT_ID, ["a.scope", "b.scope"])
    data.update(changes)
    return data


def verify(token, jwks):
    return verify_access_token(token, jwks, TEST_CLIENT_ID, "http://sso.test")


def test_a_good_token_is_accepted_with_scopes_as_a_list(key, jwks):
    result = verify(key.sign(claims()), jwks)
    assert result["character_id"] == 2117000001
    assert result["owner"] == "owner-1=" and result["name"] == "Aria Vex"
    assert result["scp"] == ["a.scope", "b.scope"]


def test_a_single_scope_string_becomes_a_list(key, jwks):
    assert verify(key.sign(claims(scp="only.scope")), jwks)["scp"] == ["only.scope"]


def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(jwks):
    forger = SigningKey()
    with pytest.raises(InvalidToken, match="Signature"):
        verify(forger.sign(claims()), jwks)


def test_an_expired_token_is_refused(key, jwks):
    now = int(time.time())
    with pytest.raises(InvalidToken, match="expired"):
        verify(key.sign(claims(iat=now - 3000, exp=now - 600)), jwks)


def test_a_token_for_another_application_is_refused(key, jwks):
    with pytest.raises(InvalidToken, match="[Aa]udience"):
        verify(key.sign(claims(aud=["someone-else", "EVE Online"])), jwks)


def test_a_token_without_eve_online_in_the_audience_is_refused(key, jwks):
    with pytest.raises(InvalidToken, match="EVE Online"):
        verify(key.sign(claims(aud=[TEST_CLIENT_ID])), jwks)


def test_a_token_from_another_issuer_is_refused(key, jwks):
    with pytest.raises(InvalidToken, match="issuer"):
        verify(key.sign(claims(iss="https://evil.example")), jwks)


def test_eve_issuer_forms_are_accepted():
    assert accepted_issuers("https://login.eveonline.com") >= {
        "login.eveonline.com",
        "https://login.eveonline.com",
    }


def _unsigned(header, payload):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def test_alg_none_is_refused(jwks):
    token = _unsigned({"alg": "none", "typ": "JWT", "kid": "JWT-Signature-Key"}, claims())
    with pytest.raises(InvalidToken, match="none"):
        verify(token, jwks)


def test_hs256_signed_with_the_public_key_is_refused(key, jwks):
    public_pem = key.private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = _unsigned(header, claims())[:-1]
    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    )
    token = signing_input + "." + signature.rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="HS256"):
        verify(token, jwks)


def test_an_unknown_kid_is_refused(key, jwks):
    other = SigningKey(kid="another-kid")
    with pytest.raises(InvalidToken, match="unknown signing key"):
        verify(other.sign(claims()), jwks)


def test_a_subject_that_is_not_a_character_is_refused(key, jwks):
    with pytest.raises(InvalidToken, match="subject"):
        verify(key.sign(claims(sub="CORPORATION:EVE:1")), jwks)


def test_garbage_is_refused(jwks):
    with pytest.raises(InvalidToken):
        verify("not-a-token", jwks)
