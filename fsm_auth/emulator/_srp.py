"""The server side of Cognito's SRP-6a PASSWORD_VERIFIER, on pycognito's primitives.

The emulator knows each user's password (moto keeps it), so it derives the verifier on the
fly: x = H(salt | H(pool_name | user_id_for_srp | ":" | password)), v = g^x mod N. It then
plays the server: B = k·v + g^b mod N, S = (A·v^u)^b mod N, key = HKDF(S, u), and checks the
client's PASSWORD_CLAIM_SIGNATURE = HMAC(key, pool_name | user_id_for_srp | secret_block |
timestamp).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import attrs
from pycognito import aws_srp

_N = aws_srp.hex_to_long(aws_srp.N_HEX)
_G = aws_srp.hex_to_long(aws_srp.G_HEX)
_K = aws_srp.hex_to_long(aws_srp.hex_hash("00" + aws_srp.N_HEX + "0" + aws_srp.G_HEX))


@attrs.frozen
class SrpChallenge:
    """One PASSWORD_VERIFIER round: what the client sees and what the server keeps."""

    pool_name: str
    user_id_for_srp: str
    salt_hex: str
    big_a: int = attrs.field(repr=False)
    small_b: int = attrs.field(repr=False)
    big_b: int = attrs.field(repr=False)
    verifier: int = attrs.field(repr=False)
    secret_block: str = attrs.field(repr=False)

    @property
    def parameters(self) -> dict[str, str]:
        """The ChallengeParameters of PASSWORD_VERIFIER (without USERNAME)."""
        return {
            "SALT": self.salt_hex,
            "SRP_B": aws_srp.long_to_hex(self.big_b),
            "SECRET_BLOCK": self.secret_block,
            "USER_ID_FOR_SRP": self.user_id_for_srp,
        }


def _verifier(pool_name: str, user_id_for_srp: str, password: str, salt_hex: str) -> int:
    user_pass_hash = aws_srp.hash_sha256(f"{pool_name}{user_id_for_srp}:{password}".encode())
    x = aws_srp.hex_to_long(aws_srp.hex_hash(aws_srp.pad_hex(salt_hex) + user_pass_hash))
    return int(pow(_G, x, _N))


def start(pool_id: str, user_id_for_srp: str, password: str, srp_a_hex: str) -> SrpChallenge:
    """Begin a PASSWORD_VERIFIER round for a client's SRP_A; ValueError if SRP_A is unusable."""
    big_a = aws_srp.hex_to_long(srp_a_hex)
    if big_a % _N == 0:
        raise ValueError("SRP_A is zero modulo N")
    pool_name = pool_id.split("_", 1)[1]
    salt_hex = aws_srp.pad_hex(aws_srp.get_random(16))
    verifier = _verifier(pool_name, user_id_for_srp, password, salt_hex)
    small_b = aws_srp.get_random(128) % _N
    big_b = (_K * verifier + pow(_G, small_b, _N)) % _N
    secret_block = base64.standard_b64encode(os.urandom(64)).decode()
    return SrpChallenge(
        pool_name, user_id_for_srp, salt_hex, big_a, small_b, big_b, verifier, secret_block
    )


def signature_valid(challenge: SrpChallenge, timestamp: str, signature_b64: str) -> bool:
    """Whether the client's PASSWORD_CLAIM_SIGNATURE proves knowledge of the password."""
    u = aws_srp.calculate_u(challenge.big_a, challenge.big_b)
    if u == 0:
        return False
    s = pow(challenge.big_a * pow(challenge.verifier, u, _N), challenge.small_b, _N)
    key = aws_srp.compute_hkdf(
        bytearray.fromhex(aws_srp.pad_hex(s)),
        bytearray.fromhex(aws_srp.pad_hex(aws_srp.long_to_hex(u))),
    )
    message = (
        challenge.pool_name.encode()
        + challenge.user_id_for_srp.encode()
        + base64.standard_b64decode(challenge.secret_block)
        + timestamp.encode()
    )
    expected = base64.standard_b64encode(hmac.new(key, message, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature_b64.encode())


def start_with_verifier(
    group_key: str, device_key: str, verifier: int, salt_hex: str, srp_a_hex: str
) -> SrpChallenge:
    """Begin a DEVICE_PASSWORD_VERIFIER round from the verifier and salt ConfirmDevice stored:
    the same SRP-6a server side, with the device group key and device key in place of the
    pool name and user (what the client's signature covers: group key | device key | secret
    block | timestamp). ValueError if SRP_A is unusable."""
    big_a = aws_srp.hex_to_long(srp_a_hex)
    if big_a % _N == 0:
        raise ValueError("SRP_A is zero modulo N")
    small_b = aws_srp.get_random(128) % _N
    big_b = (_K * verifier + pow(_G, small_b, _N)) % _N
    secret_block = base64.standard_b64encode(os.urandom(64)).decode()
    return SrpChallenge(
        group_key, device_key, salt_hex, big_a, small_b, big_b, verifier, secret_block
    )
