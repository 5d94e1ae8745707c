"""Branch-free reduction of x modulo pi/2 for every finite float: x = n*pi/2 + r, |r| <= pi/4.

* float64: Payne-Hanek in 64-bit integers for every |x| >= 2^-27. x = M * 2^s with
  M < 2^53; only a 192-bit window of the bits of 2/pi (chosen by s) matters modulo 4, and
  M * window mod 2^192 is formed exactly from 32x32->64-bit products (vpmuludq), then
  converted to a double-double. The window is read from a constant table with four
  indexed loads, which the loop vectorizer turns into gathers: no libm call, no branch.
  (Branch-free code runs every path for every lane, so a cheaper Cody-Waite path for
  moderate |x| next to this one only added work: measured.)
* float32 (computed in double): one Payne-Hanek-style path for all x, from a table of
  (2/pi * 2^e) mod 4 split in three doubles per exponent e, chosen so the products with
  the 24-bit mantissa are exact.

The bits of 2/pi are computed here from Machin's formula in integer arithmetic (and
checked against mpmath by the tests).
"""

from __future__ import annotations

from functools import cache

from llvmlite import ir

from tensorjit.codegen.mathlib_base import FP, Value, two_prod, two_sum

PIO2_DD = (1.5707963267948966, 6.123233995736766e-17)  # pi/2 = hi + lo to 2^-107

_TABLE_BITS = 1400  # bits of 2/pi kept: the float64 window reaches bit ~1260
_PAD_WORDS = 2  # zero words before 2/pi, so windows of moderate x start inside the table
_LIMBS64 = 6  # 192-bit window for float64


def two_over_pi_bits(nbits: int = _TABLE_BITS) -> int:
    """floor(2/pi * 2^nbits), with pi from Machin's formula in exact integer arithmetic."""
    guard = 64
    prec = nbits + guard
    one = 1 << prec

    def arctan_inv(k: int) -> int:
        """arctan(1/k) * 2^prec, truncated (error a few units)."""
        total, term, n, sign = 0, one // k, 1, 1
        while term:
            total += sign * (term // n)
            term //= k * k
            n += 2
            sign = -sign
        return total

    pi_scaled = 4 * (4 * arctan_inv(5) - arctan_inv(239))
    return ((2 << (2 * prec)) // pi_scaled) >> guard


@cache
def _word_table() -> tuple[int, ...]:
    """The bits of 2/pi after the binary point as 64-bit words (as signed i64), after
    _PAD_WORDS zero words and followed by zero words for the last windows."""
    nwords = _TABLE_BITS // 64
    bits = two_over_pi_bits() >> (_TABLE_BITS - 64 * nwords)
    words = [0] * _PAD_WORDS
    words += [(bits >> (64 * (nwords - 1 - k))) & (2 ** 64 - 1) for k in range(nwords)]
    words += [0] * 4
    return tuple(w - (1 << 64) if w >= 1 << 63 else w for w in words)


@cache
def _f32_table() -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """For each group g of 16 float32 exponents: (A, B, C) with A + B + C = (2/pi * 2^e_g)
    mod 4, e_g = 16 g - 150. A is a multiple of 2^-26 below 4, B a multiple of 2^-54
    below 2^-26: times a 39-bit integer m 2^k (k < 16) the products are exact doubles."""
    bits, n = two_over_pi_bits(), _TABLE_BITS
    table_a, table_b, table_c = [], [], []
    for group in range(16):
        e = 16 * group - 150
        frac = (bits << e) if e >= 0 else (bits >> -e)
        frac %= 4 << n  # (2/pi * 2^e mod 4) * 2^n
        a_int = frac >> (n - 26)
        rest = frac - (a_int << (n - 26))
        b_int = rest >> (n - 54)
        rest -= b_int << (n - 54)
        table_a.append(a_int * 2.0 ** -26)
        table_b.append(b_int * 2.0 ** -54)
        table_c.append(rest / (1 << n))  # int / int rounds correctly
    return tuple(table_a), tuple(table_b), tuple(table_c)


def _select_table(fd: FP, index: Value, values: tuple[float, ...]) -> Value:
    """values[index] for a 16-entry table, as a tree of selects on the bits of index (no
    memory access: gathers cost more than these 15 blends on the CPUs we measured)."""
    b = fd.b
    entries = [fd.c(v) for v in values]
    for level in range(4):
        bit = b.trunc(b.lshr(index, ir.Constant(index.type, level)), ir.IntType(1))
        entries = [fd.select(bit, entries[2 * i + 1], entries[2 * i])
                   for i in range(len(entries) // 2)]
    return entries[0]


def _constant_table(fp: FP, name: str, elem: ir.Type, values) -> ir.GlobalVariable:
    """A private constant global array in the builder's module (defined once)."""
    module = fp.b.module
    if name in module.globals:
        return module.globals[name]
    array_type = ir.ArrayType(elem, len(values))
    table = ir.GlobalVariable(module, array_type, name=name)
    table.initializer = ir.Constant(array_type, list(values))
    table.global_constant = True
    table.linkage = "private"
    table.unnamed_addr = True
    return table


def _load(fp: FP, table: ir.GlobalVariable, index: Value) -> Value:
    """table[index] (index i64, in bounds by construction)."""
    zero = ir.Constant(ir.IntType(64), 0)
    return fp.b.load(fp.b.gep(table, [zero, index], inbounds=True))


def mul_pio2(fd: FP, hi: Value, lo: Value) -> tuple[Value, Value]:
    """(hi + lo) * pi/2 as a double-double (|lo| <= ulp(hi))."""
    p, err = two_prod(fd, hi, fd.c(PIO2_DD[0]))
    tail = fd.fma(hi, fd.c(PIO2_DD[1]), fd.fma(lo, fd.c(PIO2_DD[0]), err))
    return fast_two_sum(fd, p, tail)


def fast_two_sum(fd: FP, a: Value, b: Value) -> tuple[Value, Value]:
    """(s, e) with s + e = a + b exactly, given |a| >= |b| or a = 0 (Dekker)."""
    s = fd.add(a, b)
    return s, fd.sub(b, fd.sub(s, a))


def reduce_f32(fd: FP, ax_bits: Value) -> tuple[Value, Value, Value]:
    """(quadrant i64, r, lo) for a float32 |x| given as its i32 bits (inf/nan: garbage).

    |x| = m 2^e exactly with e = 16 g - 150 + k; x*2/pi mod 4 = (m 2^k)(A + B + C) mod 4
    for group g's table entries, where the first two products are exact."""
    b = fd.b
    i32, i64 = ir.IntType(32), ir.IntType(64)
    biased = b.lshr(ax_bits, ir.Constant(i32, 23))
    is_normal = b.icmp_unsigned("!=", biased, ir.Constant(i32, 0))
    m = b.and_(ax_bits, ir.Constant(i32, (1 << 23) - 1))
    m = b.or_(m, b.select(is_normal, ir.Constant(i32, 1 << 23), ir.Constant(i32, 0)))
    biased = b.select(is_normal, biased, ir.Constant(i32, 1))  # denormals: e = -149
    group = b.lshr(biased, ir.Constant(i32, 4))
    k = b.zext(b.and_(biased, ir.Constant(i32, 15)), i64)
    md = b.sitofp(b.shl(b.zext(m, i64), k), fd.t)  # m 2^k < 2^39: exact
    a, bb, c = (_select_table(fd, group, t) for t in _f32_table())
    prod_a, prod_b, prod_c = fd.mul(md, a), fd.mul(md, bb), fd.mul(md, c)
    # prod_a and prod_b are exact; q = nearest integer of their sum (< 2^41, exact). Then
    # |prod_a - q + prod_b| <= 1/2 needs only bits 2^-1 .. 2^-54: both additions are
    # exact, and only adding prod_c rounds (2^-53 relative, ~2^-68 absolute).
    q = fd.rint(fd.add(prod_a, prod_b))
    quadrants = fd.add(fd.add(fd.sub(prod_a, q), prod_b), prod_c)
    r = fd.mul(quadrants, fd.c(PIO2_DD[0]))
    return fd.to_int(q), r, fd.c(0.0)


def _window_limbs(fd: FP, p: Value) -> list[Value]:
    """The 192 bits of the padded 2/pi bit string starting at bit p, as six 32-bit limbs
    in i64, least significant first. Four 64-bit loads (gathers) cover any such window."""
    b, i64 = fd.b, ir.IntType(64)
    table = _constant_table(fd, "tj.rem_pio2.words", i64, _word_table())
    word = b.lshr(p, ir.Constant(i64, 6))
    shift = b.and_(p, ir.Constant(i64, 63))
    # (next >> 1) >> (63 - shift) = next >> (64 - shift), also for shift = 0.
    back = b.sub(ir.Constant(i64, 63), shift)
    words = [_load(fd, table, b.add(word, ir.Constant(i64, j))) for j in range(4)]
    limbs = []
    for j in range(3):
        tail = b.lshr(b.lshr(words[j + 1], ir.Constant(i64, 1)), back)
        piece = b.or_(b.shl(words[j], shift), tail)
        limbs += [b.lshr(piece, ir.Constant(i64, 32)),
                  b.and_(piece, ir.Constant(i64, 0xFFFFFFFF))]
    return limbs[::-1]


def _mul_mod_2_192(fd: FP, m_lo: Value, m_hi: Value, w: list[Value]) -> list[Value]:
    """Limbs (32-bit, least significant first) of (m_hi 2^32 + m_lo) * W mod 2^192, for
    32-bit limbs w of W, m_lo < 2^32 and m_hi < 2^21: column sums of 32x32->64 products."""
    b, i64 = fd.b, ir.IntType(64)
    mask, n32 = ir.Constant(i64, 0xFFFFFFFF), ir.Constant(i64, 32)
    terms: list[list[Value]] = [[] for _ in range(_LIMBS64)]
    for factor, offset in ((m_lo, 0), (m_hi, 1)):
        for j, limb in enumerate(w):
            col = j + offset
            if col >= _LIMBS64:
                continue
            prod = b.mul(factor, limb)  # < 2^64: both operands < 2^32
            terms[col].append(b.and_(prod, mask))
            if col + 1 < _LIMBS64:
                terms[col + 1].append(b.lshr(prod, n32))
    out, carry = [], ir.Constant(i64, 0)
    for col_terms in terms:
        total = carry
        for term in col_terms:  # at most 4 terms < 2^32 plus a small carry: no overflow
            total = b.add(total, term)
        out.append(b.and_(total, mask))
        carry = b.lshr(total, n32)
    return out


def reduce_payne_hanek(fd: FP, ax: Value) -> tuple[Value, Value, Value]:
    """(quadrant i64, r, lo) for a double |x| >= 2^-30 (garbage for inf/nan)."""
    b, i64 = fd.b, ir.IntType(64)
    bits = fd.bits(ax)
    biased = b.lshr(bits, ir.Constant(i64, 52))
    mant = b.or_(b.and_(bits, ir.Constant(i64, (1 << 52) - 1)), ir.Constant(i64, 1 << 52))
    # x = M 2^s with s = biased - 1075; the window starts at the bit of weight 2^(1-s)
    # of 2/pi, which sits at index s - 2 of the padded table. Clamped for small lanes.
    p = b.add(biased, ir.Constant(i64, 64 * _PAD_WORDS - 2 - 1075))
    # Lanes of moderate x (and inf/nan) compute garbage from a clamped, in-bounds window.
    # (Masking their loads, so the gathers skip them, measured no faster.)
    p_max = 64 * (len(_word_table()) - 4) + 63
    p = b.select(b.icmp_signed("<", p, ir.Constant(i64, 0)), ir.Constant(i64, 0), p)
    p = b.select(b.icmp_signed(">", p, ir.Constant(i64, p_max)), ir.Constant(i64, p_max), p)
    m_lo = b.and_(mant, ir.Constant(i64, 0xFFFFFFFF))
    m_hi = b.lshr(mant, ir.Constant(i64, 32))
    c = _mul_mod_2_192(fd, m_lo, m_hi, _window_limbs(fd, p))
    n32 = ir.Constant(i64, 32)
    top = b.or_(b.shl(c[5], n32), c[4])  # 2 integer bits . 62 fraction bits
    nxt = b.or_(b.shl(c[3], n32), c[2])  # the next 64 fraction bits
    top = b.add(top, ir.Constant(i64, 1 << 61))  # round to the nearest quadrant
    quadrant = b.lshr(top, ir.Constant(i64, 62))
    frac = b.sub(b.and_(top, ir.Constant(i64, (1 << 62) - 1)), ir.Constant(i64, 1 << 61))
    # frac * 2^-62 + nxt * 2^-126 in [-1/2, 1/2) quadrants, converted without rounding
    # loss: the 62-bit head rounds, and its rounding error joins the next bits.
    head = b.sitofp(frac, fd.t)
    rem = b.sub(frac, b.fptosi(head, i64))
    mid = b.add(b.shl(rem, n32), b.lshr(nxt, n32))  # < 2^42 in magnitude: exact
    low = b.and_(nxt, ir.Constant(i64, 0xFFFFFFFF))
    hi, lo = two_sum(fd, fd.mul(head, fd.c(2.0 ** -62)),
                     fd.mul(b.sitofp(mid, fd.t), fd.c(2.0 ** -94)))
    lo = fd.fma(b.sitofp(low, fd.t), fd.c(2.0 ** -126), lo)
    hi, lo = fast_two_sum(fd, hi, lo)
    r, r_lo = mul_pio2(fd, hi, lo)
    return quadrant, r, r_lo


def reduce_f64(fd: FP, ax: Value) -> tuple[Value, Value, Value]:
    """(quadrant i64, r, lo) for double |x|: Payne-Hanek for every |x| >= 2^-27 (one path
    is cheaper than a Cody-Waite path next to it, since both would run); below, r = x."""
    q, r, lo = reduce_payne_hanek(fd, ax)
    tiny = fd.lt(ax, fd.c(2.0 ** -27))
    return (fd.b.select(tiny, ir.Constant(q.type, 0), q), fd.select(tiny, ax, r),
            fd.select(tiny, fd.c(0.0), lo))
