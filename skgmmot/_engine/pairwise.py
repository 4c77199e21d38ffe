"""GMM-OT distances between blocks of many mixtures, tile by tile.

The components of all mixtures are pooled, so that the Bures costs of many
pairs come from one kernel call on a tile of pooled components (tiles are
bounded, so memory stays small however many mixtures there are); each pair's
small discrete OT problem then goes to the exact solver.
"""

import itertools

import numpy as np

from skgmmot._engine.costs import cost_matrix
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import exact_plan

__all__ = ["block_losses", "tiles"]

#: Largest number of entries of a Bures cost tile (8 MiB of float64).
TILE_ENTRIES = 2**20
#: Largest number of pooled components along the columns of a tile.
TILE_COLUMNS = 2**14


def tiles(offsets, limit):
    """Split mixtures into consecutive groups of at most ``limit`` components.

    A group always holds at least one mixture, even a larger one.
    """
    bounds = [0]
    n = offsets.shape[0] - 1
    while bounds[-1] < n:
        lo = bounds[-1]
        hi = int(np.searchsorted(offsets, offsets[lo] + limit, side="right")) - 1
        bounds.append(min(n, max(hi, lo + 1)))
    return bounds


def block_losses(rows, cols, shift, num_iter_max=None):
    """Squared GMM-OT distances between a block of row and column mixtures.

    Parameters
    ----------
    rows, cols : tuple
        ``(means, covariances, weights, offsets)`` of the pooled components of
        the row and column mixtures; mixture ``r`` owns components
        ``offsets[r]:offsets[r + 1]``.
    shift : int or None
        None: every pair. Otherwise only pairs ``(r, c)`` with ``c > r +
        shift`` (the upper triangle of a symmetric matrix, ``shift`` being
        the global index of the first row minus that of the first column);
        the other entries are 0.
    num_iter_max : int, optional
        POT's ``numItermax`` of the exact solver; None: growing limits.

    Returns
    -------
    losses : ndarray of shape (n_rows, n_cols)
        ``sum(plan * cost)`` of the exact plan of every pair, row mixture as
        source. Each entry depends only on its two mixtures, not on the block
        or its tiling.
    notes : Notes
        The solver's problems (returned, so that worker processes report
        them too).
    """
    r_means, r_covs, r_weights, r_off = rows
    c_means, c_covs, c_weights, c_off = cols
    n_rows, n_cols = r_off.shape[0] - 1, c_off.shape[0] - 1
    out = np.zeros((n_rows, n_cols))
    notes = Notes()
    col_tiles = tiles(c_off, TILE_COLUMNS)
    widest = max(c_off[hi] - c_off[lo] for lo, hi in itertools.pairwise(col_tiles))
    row_tiles = tiles(r_off, max(1, TILE_ENTRIES // max(1, widest)))
    for r_lo, r_hi in itertools.pairwise(row_tiles):
        ra, rb = r_off[r_lo], r_off[r_hi]
        for c_lo, c_hi in itertools.pairwise(col_tiles):
            if shift is not None and c_hi - 1 <= r_lo + shift:
                continue  # the whole tile is on or below the diagonal
            ca, cb = c_off[c_lo], c_off[c_hi]
            cost = cost_matrix(
                r_means[ra:rb], r_covs[ra:rb], c_means[ca:cb], c_covs[ca:cb]
            )
            for r in range(r_lo, r_hi):
                i0, i1 = r_off[r] - ra, r_off[r + 1] - ra
                a = r_weights[r_off[r] : r_off[r + 1]]
                first = c_lo if shift is None else max(c_lo, r + shift + 1)
                for c in range(first, c_hi):
                    block = np.ascontiguousarray(
                        cost[i0:i1, c_off[c] - ca : c_off[c + 1] - ca]
                    )
                    plan = exact_plan(
                        a,
                        c_weights[c_off[c] : c_off[c + 1]],
                        block,
                        num_iter_max=num_iter_max,
                        notes=notes,
                    )
                    out[r, c] = (plan * block).sum()
    return out, notes
