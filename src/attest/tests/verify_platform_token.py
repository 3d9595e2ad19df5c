#!/usr/bin/python3
"""An independent verifier for el3d's CCA platform token.

Runs el3d_attest_token_tool to get tokens and the platform public key, then checks them with code
that shares nothing with el3d: cbor2 decodes, this script checks the COSE_Sign1 envelope (tag 18,
protected header {1: -35}), every claim's key, type and size against the CCA platform profile
("tag:arm.com,2023:cca_platform#1.0.0", draft-ffm-rats-cca-token), the challenge, and the ECDSA
P-384 / SHA-384 signature over a Sig_structure rebuilt here, verified by python3-cryptography.
Tampered tokens and wrong challenge sizes must be refused.

Needs Debian's python3-cbor2 and python3-cryptography, hence /usr/bin/python3.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import unittest

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ARGS = None

PROFILE = "tag:arm.com,2023:cca_platform#1.0.0"
COSE_SIGN1_TAG = 18
ES384 = -35
HASH_SIZES = (32, 48, 64)
HASH_NAMES = {"sha-256": 32, "sha-384": 48, "sha-512": 64}  # IANA hash function textual names
# Lifecycle: seven 256-value ranges, unknown .. decommissioned.
LIFECYCLE_RANGES = [(base, base + 0xFF) for base in range(0x0000, 0x7000, 0x1000)]
P384_ORDER = int("ffffffffffffffffffffffffffffffffffffffffffffffff"
                 "c7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16)

CHALLENGE, INSTANCE_ID, PROFILE_KEY, LIFECYCLE, IMPLEMENTATION_ID = 10, 256, 265, 2395, 2396
SW_COMPONENTS, VERIFICATION_SERVICE, PLATFORM_CONFIG, HASH_ALGO_ID = 2399, 2400, 2401, 2402
MANDATORY = {CHALLENGE, INSTANCE_ID, PROFILE_KEY, LIFECYCLE, IMPLEMENTATION_ID, SW_COMPONENTS,
             PLATFORM_CONFIG, HASH_ALGO_ID}
OPTIONAL = {VERIFICATION_SERVICE}


class TokenError(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise TokenError(msg)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_hash(v):
    return isinstance(v, bytes) and len(v) in HASH_SIZES


def run_tool(tmp, challenge, scalar=None):
    """Returns (returncode, token bytes or None, public key PEM or None)."""
    token_path = os.path.join(tmp, "token.cbor")
    pem_path = os.path.join(tmp, "platform.pem")
    for p in (token_path, pem_path):
        if os.path.exists(p):
            os.unlink(p)
    cmd = [ARGS.tool, challenge.hex(), token_path, pem_path]
    if scalar is not None:
        cmd.append(scalar.hex())
    rc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE).returncode
    return rc, read_if_present(token_path), read_if_present(pem_path)


def read_if_present(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def decode_envelope(token):
    """COSE_Sign1_Tagged -> (protected bytes, payload bytes, signature bytes)."""
    obj = cbor2.loads(token)
    require(isinstance(obj, cbor2.CBORTag) and obj.tag == COSE_SIGN1_TAG, "not a COSE_Sign1 (tag 18)")
    body = obj.value
    require(isinstance(body, list) and len(body) == 4, "COSE_Sign1 is not a 4-element array")
    protected, unprotected, payload, signature = body
    require(isinstance(protected, bytes), "protected header is not a bstr")
    require(isinstance(unprotected, dict), "unprotected header is not a map")
    require(isinstance(payload, bytes), "payload is not a bstr")
    require(isinstance(signature, bytes) and len(signature) == 96, "signature is not 96 bytes (ES384 r||s)")
    require(cbor2.loads(protected) == {1: ES384}, "protected header is not {1: -35}")
    require(unprotected == {}, "unexpected unprotected header parameters")
    # Deterministic encoding: a canonical re-encoding reproduces the token byte for byte (this also
    # proves there are no trailing bytes, which cbor2.loads would ignore).
    require(cbor2.dumps(obj, canonical=True) == token, "token is not deterministically encoded")
    return protected, payload, signature


def check_claims(payload, challenge, public_point):
    claims = cbor2.loads(payload)
    require(isinstance(claims, dict), "payload is not a map")
    require(cbor2.dumps(claims, canonical=True) == payload, "claims are not deterministically encoded")
    keys = set(claims)
    require(all(is_int(k) for k in keys), "a claim key is not an integer")
    require(MANDATORY <= keys, "missing claims: %s" % sorted(MANDATORY - keys))
    require(keys <= MANDATORY | OPTIONAL, "unknown claims: %s" % sorted(keys - MANDATORY - OPTIONAL))

    require(claims[PROFILE_KEY] == PROFILE, "wrong profile %r" % claims[PROFILE_KEY])
    require(is_hash(claims[CHALLENGE]), "challenge is not a 32/48/64-byte bstr")
    require(claims[CHALLENGE] == challenge, "challenge claim differs from the challenge")
    impl = claims[IMPLEMENTATION_ID]
    require(isinstance(impl, bytes) and len(impl) == 32, "implementation id is not 32 bytes")
    inst = claims[INSTANCE_ID]
    require(isinstance(inst, bytes) and len(inst) == 33 and inst[0] == 0x01,
            "instance id is not a 33-byte random-type UEID")
    require(inst[1:] == hashlib.sha256(public_point).digest(),
            "instance id is not 0x01 || SHA-256 of the platform public key")
    require(isinstance(claims[PLATFORM_CONFIG], bytes), "platform config is not a bstr")
    lc = claims[LIFECYCLE]
    require(is_int(lc) and any(lo <= lc <= hi for lo, hi in LIFECYCLE_RANGES), "bad lifecycle %r" % lc)
    require(lc == 0x3000, "lifecycle is not 'secured'")
    require(claims[HASH_ALGO_ID] in HASH_NAMES, "bad hash algorithm id %r" % claims[HASH_ALGO_ID])
    if VERIFICATION_SERVICE in claims:
        require(isinstance(claims[VERIFICATION_SERVICE], str) and claims[VERIFICATION_SERVICE],
                "verification service is not a non-empty tstr")

    comps = claims[SW_COMPONENTS]
    require(isinstance(comps, list) and comps, "software components is not a non-empty array")
    for i, c in enumerate(comps):
        require(isinstance(c, dict), "software component %d is not a map" % i)
        require(set(c) <= {1, 2, 4, 5, 6}, "software component %d has unknown keys %s" % (i, sorted(c)))
        require(is_hash(c.get(2)), "software component %d: measurement is not a 32/48/64-byte bstr" % i)
        require(is_hash(c.get(5)), "software component %d: signer id is not a 32/48/64-byte bstr" % i)
        for k in (1, 4, 6):
            require(k not in c or isinstance(c[k], str), "software component %d: key %d is not a tstr" % (i, k))
        if 6 in c:
            require(HASH_NAMES.get(c[6]) == len(c[2]),
                    "software component %d: %r does not match a %d-byte measurement" % (i, c[6], len(c[2])))
    return claims


def load_public_key(pem):
    key = serialization.load_pem_public_key(pem)
    require(isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1),
            "the platform key is not a P-384 key")
    return key


def verify_signature(key, protected, payload, signature):
    """Raises InvalidSignature unless the signature is good."""
    sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])  # RFC 9052 section 4.4
    r = int.from_bytes(signature[:48], "big")
    s = int.from_bytes(signature[48:], "big")
    # cryptography hashes sig_structure with SHA-384 itself: an independent digest as well.
    key.verify(encode_dss_signature(r, s), sig_structure, ec.ECDSA(hashes.SHA384()))


def check_token(token, pem, challenge):
    """The whole verification; returns the decoded claims."""
    key = load_public_key(pem)
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    protected, payload, signature = decode_envelope(token)
    verify_signature(key, protected, payload, signature)
    return check_claims(payload, challenge, point)


class PlatformTokenTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="el3d-attest-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def make(self, challenge, scalar=None):
        rc, token, pem = run_tool(self.tmp, challenge, scalar)
        self.assertEqual(rc, 0, "the tool failed")
        self.assertIsNotNone(token)
        self.assertIsNotNone(pem)
        return token, pem

    def test_valid_token_for_each_challenge_size(self):
        for n in HASH_SIZES:
            with self.subTest(size=n):
                challenge = os.urandom(n)
                token, pem = self.make(challenge)
                claims = check_token(token, pem, challenge)
                self.assertEqual(len(claims[SW_COMPONENTS]), 8)
                self.assertLess(len(token), 4096)  # fits the RMM-EL3 shared buffer

    def test_fixed_key_gives_fixed_claims(self):
        scalar = hashlib.sha384(b"el3d attest python test key").digest()
        self.assertLess(int.from_bytes(scalar, "big"), P384_ORDER)
        challenge = bytes(range(48))
        t1, pem1 = self.make(challenge, scalar)
        t2, pem2 = self.make(challenge, scalar)
        self.assertEqual(pem1, pem2)
        # The tool's public key is the one cryptography derives from the same scalar.
        expected = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP384R1()).public_key()
        self.assertEqual(
            load_public_key(pem1).public_numbers(), expected.public_numbers())
        _, p1, s1 = decode_envelope(t1)
        _, p2, s2 = decode_envelope(t2)
        self.assertEqual(p1, p2)      # claims are deterministic
        self.assertNotEqual(s1, s2)   # ECDSA nonces are not
        check_token(t1, pem1, challenge)
        check_token(t2, pem2, challenge)

    def test_tampered_tokens_are_rejected(self):
        challenge = os.urandom(64)
        token, pem = self.make(challenge)
        check_token(token, pem, challenge)
        key = load_public_key(pem)
        protected, payload, signature = decode_envelope(token)

        # A flipped bit in the challenge, in a measurement, or in the signature: still decodes,
        # no longer verifies.
        targets = {
            "challenge": token.index(challenge) + 7,
            "measurement": token.index(cbor2.loads(payload)[SW_COMPONENTS][3][2]) + 1,
            "platform config": token.index(cbor2.loads(payload)[PLATFORM_CONFIG]),
            "signature": len(token) - 50,
        }
        for what, pos in targets.items():
            with self.subTest(tampered=what):
                bad = bytearray(token)
                bad[pos] ^= 0x01
                bad = bytes(bad)
                p, pl, sig = decode_envelope(bad)
                with self.assertRaises(InvalidSignature):
                    verify_signature(key, p, pl, sig)
                with self.assertRaises((InvalidSignature, TokenError)):
                    check_token(bad, pem, challenge)

        # The right token, checked against another key.
        other = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        with self.assertRaises(InvalidSignature):
            check_token(token, other, challenge)

        # A different algorithm in the protected header (-35 -> -36): refused by the header check,
        # and the signature (which covers the header) breaks too.
        bad = token.replace(bytes([0xA1, 0x01, 0x38, 0x22]), bytes([0xA1, 0x01, 0x38, 0x23]), 1)
        self.assertNotEqual(bad, token)
        with self.assertRaises(TokenError):
            decode_envelope(bad)
        with self.assertRaises(InvalidSignature):
            verify_signature(key, cbor2.loads(bad).value[0], payload, signature)

        # Truncated: not a token at all.
        with self.assertRaises(Exception):
            check_token(token[:-1], pem, challenge)

        # Right token, wrong expected challenge.
        with self.assertRaises(TokenError):
            check_token(token, pem, os.urandom(64))

    def test_wrong_challenge_sizes_are_refused(self):
        for n in (0, 1, 16, 20, 31, 33, 47, 49, 63, 65, 128):
            with self.subTest(size=n):
                rc, token, _ = run_tool(self.tmp, os.urandom(n))
                self.assertEqual(rc, 1)
                self.assertIsNone(token)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", required=True, help="path to el3d_attest_token_tool")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
