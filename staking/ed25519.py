"""Is 32 bytes a usable Ed25519 public key? RFC 8032 point decoding, in pure Python.

The staking contract refuses a consensus key that is not the encoding of a
point on the curve, or is a point of small order (the identity and the seven
others of order dividing 8: a "key" anyone can forge signatures for). The
check is here, in integer arithmetic, rather than in a crypto library,
because every validator must reach the same verdict on the same bytes: a
library's acceptance rules can differ between versions.
"""

from __future__ import annotations

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _decode(encoded: bytes) -> tuple[int, int] | None:
    """RFC 8032 section 5.1.3: the affine point (x, y), or None if not a canonical point."""
    if len(encoded) != 32:
        return None
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    if (v * x * x - u) % P != 0:
        if (v * x * x + u) % P != 0:
            return None
        x = (x * SQRT_M1) % P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    """Twisted Edwards doubling (a = -1), affine."""
    x, y = point
    xy = x * y % P
    den_x = pow((1 + D * xy * xy) % P, P - 2, P)
    den_y = pow((1 - D * xy * xy) % P, P - 2, P)
    return (2 * xy * den_x % P, (y * y + x * x) * den_y % P)


def is_valid_public_key(encoded: bytes) -> bool:
    """True if ``encoded`` decodes to a curve point whose order is not a divisor of 8."""
    point = _decode(encoded)
    if point is None:
        return False
    for _ in range(3):
        point = _double(point)
    return point != (0, 1)
