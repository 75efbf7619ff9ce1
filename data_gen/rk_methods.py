"""Embedded Runge–Kutta pairs for the ensemble integrator: stages, error norm, dense output.

Arrays are laid out (C, E): coordinates by ensemble members; stages are stacked (S, C, E).
Stage sums are elementwise products summed over the stage axis, never a matmul: BLAS may
round differently with the array's length, and a member's trajectory must not depend on how
many other members share its batch (rows are rebuilt exactly from their genealogy).
"""

from __future__ import annotations


def combine(coeffs, ks):
    """Σ_s coeffs[s] ks[s] for coeffs (S,) and stages ks (S, C, E) -> (C, E)."""
    return (coeffs[:, None, None] * ks).sum(0)


class Dopri5:
    """Dormand & Prince 5(4) with its 4th-order continuous extension (Hairer, Nørsett & Wanner,
    Solving ODEs I, II.5-6; the constants of scipy's RK45). The last stage is f(y_new) (FSAL)."""

    name = "dopri5"
    n_stages = 6
    error_exponent = -1 / 5
    _C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
    _A = (
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    )
    _B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
    _E = (-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40)
    # y(t + θh) = y + h Σ_s K_s Σ_j P[s, j] θ^(j+1)
    _P = (
        (1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432),
        (0, 0, 0, 0),
        (0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799),
        (0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072),
        (0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632),
        (0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844),
        (0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423),
    )

    def __init__(self, xp, like: dict):
        self.xp = xp
        self.c = self._C
        self.a = [xp.asarray(row, **like) for row in self._A]
        self.b = xp.asarray(self._B, **like)
        self.e = xp.asarray(self._E, **like)
        self.p = xp.asarray(self._P, **like)

    def error(self, ks, h, scale):
        """RMS over coordinates of the scaled local error estimate -> (E,)."""
        return self.xp.sqrt(((h * combine(self.e, ks) / scale) ** 2).mean(0))

    def interpolant(self, field, t, y, y_new, h, ks):
        """A function (mask (E,), θ (n,)) -> states (C, n) at t + θh for the masked members."""
        xp = self.xp

        def at(mask, theta):
            powers = xp.stack([theta, theta**2, theta**3, theta**4])  # (4, n)
            weights = (self.p[:, :, None] * powers[None]).sum(1)  # (7, n)
            return y[:, mask] + h[mask] * (weights[:, None, :] * ks[:, :, mask]).sum(0)

        return at


class Dop853:
    """Dormand & Prince 8(5,3) with its 7th-order continuous extension (Hairer, Nørsett &
    Wanner, Solving ODEs I, II.10). The coefficient tables are scipy's (a private module that
    has been stable since scipy 1.4). Dense output needs three extra stages per step."""

    name = "dop853"
    n_stages = 12
    error_exponent = -1 / 8

    def __init__(self, xp, like: dict):
        from scipy.integrate._ivp import dop853_coefficients as k

        self.xp = xp
        self.c = tuple(float(v) for v in k.C)
        self.a = [xp.asarray(k.A[s, :s], **like) for s in range(k.N_STAGES_EXTENDED)]
        self.b = xp.asarray(k.B, **like)
        self.e3 = xp.asarray(k.E3, **like)
        self.e5 = xp.asarray(k.E5, **like)
        self.d = xp.asarray(k.D, **like)
        self.n_extended = k.N_STAGES_EXTENDED

    def error(self, ks, h, scale):
        """Hairer's combined 5th/3rd-order estimate (as in DOP853 and scipy) -> (E,)."""
        xp = self.xp
        e5 = ((combine(self.e5, ks) / scale) ** 2).sum(0)
        e3 = ((combine(self.e3, ks) / scale) ** 2).sum(0)
        denom = e5 + 0.01 * e3
        safe = xp.where(denom > 0, denom, 1.0)
        return xp.where(denom > 0, xp.abs(h) * e5 / xp.sqrt(safe * ks.shape[1]), 0.0)

    def interpolant(self, field, t, y, y_new, h, ks):
        """A function (mask (E,), θ (n,)) -> states (C, n) at t + θh for the masked members."""
        xp = self.xp
        ext = [k for k in ks]
        for s in range(self.n_stages + 1, self.n_extended):
            ext.append(field(t + self.c[s] * h, y + h * combine(self.a[s], xp.stack(ext))))
        ext = xp.stack(ext)
        dy = y_new - y
        f_old, f_new = ks[0], ks[self.n_stages]
        poly = [dy, h * f_old - dy, 2 * dy - h * (f_old + f_new)]
        poly += list(h * (self.d[:, :, None, None] * ext[None]).sum(1))

        def at(mask, theta):
            value = xp.zeros_like(y[:, mask])
            for i, coef in enumerate(reversed(poly)):
                value = value + coef[:, mask]
                value = value * (theta if i % 2 == 0 else 1 - theta)
            return y[:, mask] + value

        return at


METHODS = {m.name: m for m in (Dopri5, Dop853)}
