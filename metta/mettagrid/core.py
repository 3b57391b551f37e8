"""The compiled core: numba kernels that step and reset a batch of environments in one call.

State is a handful of arrays with a leading environment axis (see :class:`State`); per-env
rules are in :class:`Params`, so the curriculum can give every environment of a batch its
own task.  Nothing allocates per agent per step.

Observations are copied from a per-environment feature grid, padded by half a window on
each side and kept up to date cell by cell as things change (``_render_cell``), so each
agent's window is ``obs_height`` contiguous row copies, with no bounds checks.

Why the fields are packed into few, wide arrays (``ag[e, a, AG_Y]`` rather than one array
per field): numba passes every array of a tuple argument as a dozen scalars, so compile
time and call cost grow with the number of arrays; 48 separate arrays took ~35 s to
compile, the packed layout compiles in a fraction of that.  Kernels run without numba's
reference counting (``_nrt=False``): they only index preallocated arrays.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from metta.mettagrid.layout import (
    ACTION_TYPE,
    ACTION_TYPE_NAMES,
    ACTIONS,
    FIRST_CONVERTER,
    GRID_FEATURE,
    KIND,
    KIND_CHANNEL_OFFSET,
    NUM_ACTIONS,
    NUM_GRID_FEATURES,
    NUM_ITEMS,
    NUM_KINDS,
    SELF_FEATURE,
    STAT,
    STAT_ACTION,
    STAT_GAINED,
    STAT_GET,
    STAT_LOST,
    STAT_PUT,
)

Geometry = namedtuple(
    "Geometry", ["rooms", "rooms_per_row", "room_h", "room_w", "agents_per_room", "obs_h", "obs_w"]
)

State = namedtuple(
    "State",
    [
        "kind",  # uint8[E, H, W] object kind per cell (0 empty)
        "agent_at",  # int16[E, H, W] agent index per cell (-1 none)
        "conv_at",  # int16[E, H, W] converter index per cell (-1 none)
        "feat",  # uint8[E, H + obs_h - 1, (W + obs_w - 1) * features] padded feature grid
        "ag",  # int32[E, A, AG_FIELDS]
        "ag_inv",  # int32[E, A, items]
        "ag_reward",  # float32[E, A, 2]: AG_LEVEL (reward value of the items held), AG_RETURN
        "stats",  # float32[E, A, stats]
        "cv",  # int32[E, M, CV_FIELDS] converters
        "cv_inv",  # int32[E, M, items]
        "env",  # int32[E, ENV_FIELDS]
        "rng",  # uint64[E]
        "scratch",  # int32[E, room cells] for placing objects
    ],
)
AG_Y, AG_X, AG_ORI, AG_FROZEN, AG_LAST_ACTION, AG_SUCCESS = range(6)
AG_FIELDS = 6
AG_LEVEL, AG_RETURN = 0, 1
CV_Y, CV_X, CV_KIND, CV_STATE, CV_UNTIL = range(5)
CV_FIELDS = 5
ENV_N_CONV, ENV_TICK, ENV_LIMIT = range(3)  # ENV_LIMIT: this episode's length (desync shortens it)
ENV_FIELDS = 3
IDLE, CONVERTING, COOLING = 0, 1, 2

# Per-env rules, compiled from an EnvConfig by metta.mettagrid.params.
Params = namedtuple(
    "Params",
    [
        "conv",  # int32[E, kinds, CONV_FIELDS] converter recipe and timing per kind
        "items",  # int32[E, ITEM_ROWS, items]
        "rew",  # float32[E, 2, items]: REW_WEIGHT, REW_CAP (most items of a kind rewarded; inf: no cap)
        "misc",  # int32[E, MISC_FIELDS]
        "room_map",  # int32[E, room cells] fixed layout: kind, -1 agent; all -2 when placed at random
    ],
)
CONV_IN = 0  # .. + items: inputs per conversion
CONV_OUT = NUM_ITEMS  # .. + items: outputs per conversion
CONV_MAX_OUT = 2 * NUM_ITEMS  # output items held that block a new conversion (-1: no limit)
CONV_TICKS, CONV_COOL, CONV_INIT = CONV_MAX_OUT + 1, CONV_MAX_OUT + 2, CONV_MAX_OUT + 3
CONV_FIELDS = CONV_MAX_OUT + 4
ITEM_LIMIT, ITEM_INIT, ITEM_ATTACK_COST, ITEM_ATTACK_DEF = range(4)
ITEM_ROWS = 4
REW_WEIGHT, REW_CAP = 0, 1
MISC_FREEZE, MISC_MAX_STEPS = 0, 1
MISC_ACTION_ENABLED = 2  # .. + action types
MISC_SWAPPABLE = MISC_ACTION_ENABLED + len(ACTION_TYPE_NAMES)  # .. + kinds
MISC_ROOM_COUNTS = MISC_SWAPPABLE + NUM_KINDS  # .. + kinds: objects per room
MISC_FIELDS = MISC_ROOM_COUNTS + NUM_KINDS

_C = NUM_GRID_FEATURES
_F_AGENT = GRID_FEATURE["agent"]
_F_ORI = GRID_FEATURE["agent:orientation"]
_F_FROZEN = GRID_FEATURE["agent:frozen"]
_F_OUT = GRID_FEATURE["converter:output"]
_F_CONVERTING = GRID_FEATURE["converter:converting"]
_F_COOLING = GRID_FEATURE["converter:cooling"]
_S_INV = SELF_FEATURE["inv:ore_red"]
_S_LAST = SELF_FEATURE["last_action"]
_S_SUCCESS = SELF_FEATURE["last_action_success"]
_S_PROGRESS = SELF_FEATURE["episode_progress"]
_WALL = KIND["wall"]
_A_NOOP, _A_MOVE, _A_ROTATE = ACTION_TYPE["noop"], ACTION_TYPE["move"], ACTION_TYPE["rotate"]
_A_PUT, _A_GET, _A_ATTACK, _A_SWAP = (
    ACTION_TYPE["put_items"], ACTION_TYPE["get_items"], ACTION_TYPE["attack"], ACTION_TYPE["swap"],
)  # fmt: skip
_ACTION_TYPE_OF = np.array([ACTION_TYPE[name] for name, _ in ACTIONS], dtype=np.int32)
_ACTION_ARG_OF = np.array([arg for _, arg in ACTIONS], dtype=np.int32)
_DY = np.array([-1, 1, 0, 0], dtype=np.int32)  # by orientation: up, down, left, right
_DX = np.array([0, 0, -1, 1], dtype=np.int32)
_S_INVALID = STAT["action.invalid"]
_S_HIT = STAT["attack.hit"]
_S_BLOCKED = STAT["attack.blocked"]
_S_FROZEN = STAT["status.frozen"]
_S_FROZEN_TICKS = STAT["status.frozen.ticks"]


@njit(cache=True, _nrt=False)
def _randint(rng, e, n):
    """xorshift64*: cheap, and good enough for agent order and map placement."""
    x = rng[e]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[e] = x
    return np.int64(((x * np.uint64(2685821657736338717)) >> np.uint64(33)) % np.uint64(n))


@njit(cache=True, _nrt=False)
def seed_rng(rng, e, seed):
    """splitmix64 of the seed, so nearby seeds give unrelated streams (never zero)."""
    z = np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    rng[e] = z if z != np.uint64(0) else np.uint64(1)


@njit(cache=True, _nrt=False)
def _held_output(st, pr, e, c):
    k = st.cv[e, c, CV_KIND]
    held = 0
    for i in range(NUM_ITEMS):
        if pr.conv[e, k, CONV_OUT + i] > 0:
            held += st.cv_inv[e, c, i]
    return held


@njit(cache=True, _nrt=False)
def _render_cell(st, pr, e, y, x):
    pad_y = (st.feat.shape[1] - st.kind.shape[1]) // 2
    pad_x = (st.feat.shape[2] // _C - st.kind.shape[2]) // 2
    row = st.feat[e, y + pad_y]
    base = (x + pad_x) * _C
    for f in range(_C):
        row[base + f] = 0
    k = st.kind[e, y, x]
    if k > 0:
        row[base + k + KIND_CHANNEL_OFFSET] = 1
    a = st.agent_at[e, y, x]
    if a >= 0:
        row[base + _F_AGENT] = 1
        row[base + _F_ORI] = st.ag[e, a, AG_ORI] + 1
        row[base + _F_FROZEN] = 1 if st.ag[e, a, AG_FROZEN] > 0 else 0
    c = st.conv_at[e, y, x]
    if c >= 0:
        row[base + _F_OUT] = min(_held_output(st, pr, e, c), 255)
        row[base + _F_CONVERTING] = 1 if st.cv[e, c, CV_STATE] == CONVERTING else 0
        row[base + _F_COOLING] = 1 if st.cv[e, c, CV_STATE] == COOLING else 0


@njit(cache=True, _nrt=False)
def _add_item(st, pr, e, a, item, delta):
    """Change an agent's inventory within [0, limit]; returns the change made."""
    have = st.ag_inv[e, a, item]
    new = min(max(have + delta, 0), pr.items[e, ITEM_LIMIT, item])
    change = new - have
    if change > 0:
        st.stats[e, a, STAT_GAINED + item] += change
    elif change < 0:
        st.stats[e, a, STAT_LOST + item] -= change
    st.ag_inv[e, a, item] = new
    return change


@njit(cache=True, _nrt=False)
def _maybe_start(st, pr, e, c):
    if st.cv[e, c, CV_STATE] != IDLE:
        return
    k = st.cv[e, c, CV_KIND]
    max_out = pr.conv[e, k, CONV_MAX_OUT]
    if max_out >= 0 and _held_output(st, pr, e, c) >= max_out:
        return
    for i in range(NUM_ITEMS):
        if st.cv_inv[e, c, i] < pr.conv[e, k, CONV_IN + i]:
            return
    for i in range(NUM_ITEMS):
        st.cv_inv[e, c, i] -= pr.conv[e, k, CONV_IN + i]
    st.cv[e, c, CV_STATE] = CONVERTING
    st.cv[e, c, CV_UNTIL] = st.env[e, ENV_TICK] + pr.conv[e, k, CONV_TICKS]


@njit(cache=True, _nrt=False)
def _advance_converters(st, pr, e):
    """Finish conversions and cooldowns due this tick (a zero-tick conversion finishes at once)."""
    t = st.env[e, ENV_TICK]
    for c in range(st.env[e, ENV_N_CONV]):
        state = st.cv[e, c, CV_STATE]
        if state == IDLE or st.cv[e, c, CV_UNTIL] > t:
            continue
        k = st.cv[e, c, CV_KIND]
        if state == CONVERTING:
            for i in range(NUM_ITEMS):
                st.cv_inv[e, c, i] = min(st.cv_inv[e, c, i] + pr.conv[e, k, CONV_OUT + i], 255)
            if pr.conv[e, k, CONV_COOL] > 0:
                st.cv[e, c, CV_STATE] = COOLING
                st.cv[e, c, CV_UNTIL] = t + pr.conv[e, k, CONV_COOL]
            else:
                st.cv[e, c, CV_STATE] = IDLE
                _maybe_start(st, pr, e, c)
        else:
            st.cv[e, c, CV_STATE] = IDLE
            _maybe_start(st, pr, e, c)
        _render_cell(st, pr, e, st.cv[e, c, CV_Y], st.cv[e, c, CV_X])


@njit(cache=True, _nrt=False)
def _in_bounds(kind, y, x):
    return 0 <= y < kind.shape[1] and 0 <= x < kind.shape[2]


@njit(cache=True, _nrt=False)
def _move_agent(st, pr, e, a, y, x):
    oy, ox = st.ag[e, a, AG_Y], st.ag[e, a, AG_X]
    st.agent_at[e, oy, ox] = -1
    st.agent_at[e, y, x] = a
    st.ag[e, a, AG_Y] = y
    st.ag[e, a, AG_X] = x
    _render_cell(st, pr, e, oy, ox)
    _render_cell(st, pr, e, y, x)


@njit(cache=True, _nrt=False)
def _transfer(st, pr, e, a, c, put):
    """put: the agent fills the converter's missing inputs; else it takes the outputs."""
    k = st.cv[e, c, CV_KIND]
    moved = 0
    for i in range(NUM_ITEMS):
        if put:
            need = pr.conv[e, k, CONV_IN + i] - st.cv_inv[e, c, i]
            n = -_add_item(st, pr, e, a, i, -min(max(need, 0), st.ag_inv[e, a, i])) if need > 0 else 0
            st.cv_inv[e, c, i] += n
            st.stats[e, a, STAT_PUT + i] += n
        else:
            offer = st.cv_inv[e, c, i] if pr.conv[e, k, CONV_OUT + i] > 0 else 0
            n = _add_item(st, pr, e, a, i, offer) if offer > 0 else 0
            st.cv_inv[e, c, i] -= n
            st.stats[e, a, STAT_GET + i] += n
        moved += n
    if moved > 0:
        _maybe_start(st, pr, e, c)
        _render_cell(st, pr, e, st.cv[e, c, CV_Y], st.cv[e, c, CV_X])
    return moved > 0


@njit(cache=True, _nrt=False)
def _attack(st, pr, e, a, arg):
    for i in range(NUM_ITEMS):
        if st.ag_inv[e, a, i] < pr.items[e, ITEM_ATTACK_COST, i]:
            return False
    o = st.ag[e, a, AG_ORI]
    dist = (arg - 1) // 3 + 1
    side = (arg - 1) % 3 - 1
    # Sideways is the forward direction turned clockwise: (dy, dx) -> (dx, -dy).
    y = st.ag[e, a, AG_Y] + _DY[o] * dist + _DX[o] * side
    x = st.ag[e, a, AG_X] + _DX[o] * dist - _DY[o] * side
    if not _in_bounds(st.kind, y, x):
        return False
    t = st.agent_at[e, y, x]
    if t < 0 or st.ag[e, t, AG_FROZEN] > 0:
        return False
    for i in range(NUM_ITEMS):
        _add_item(st, pr, e, a, i, -pr.items[e, ITEM_ATTACK_COST, i])
    defended = True
    for i in range(NUM_ITEMS):
        if st.ag_inv[e, t, i] < pr.items[e, ITEM_ATTACK_DEF, i]:
            defended = False
    if defended:
        for i in range(NUM_ITEMS):
            _add_item(st, pr, e, t, i, -pr.items[e, ITEM_ATTACK_DEF, i])
        st.stats[e, a, _S_BLOCKED] += 1
        return True
    st.ag[e, t, AG_FROZEN] = pr.misc[e, MISC_FREEZE]
    st.stats[e, t, _S_FROZEN] += 1
    st.stats[e, a, _S_HIT] += 1
    for i in range(NUM_ITEMS):
        taken = _add_item(st, pr, e, a, i, st.ag_inv[e, t, i])
        _add_item(st, pr, e, t, i, -taken)
    _render_cell(st, pr, e, y, x)
    return True


@njit(cache=True, _nrt=False, inline="always")  # a call per agent per step costs more than its body
def _act(st, pr, e, a, action):
    if action < 0 or action >= NUM_ACTIONS:
        st.stats[e, a, _S_INVALID] += 1
        return False
    typ = _ACTION_TYPE_OF[action]
    arg = _ACTION_ARG_OF[action]
    ok = False
    if pr.misc[e, MISC_ACTION_ENABLED + typ]:
        o = st.ag[e, a, AG_ORI]
        y, x = st.ag[e, a, AG_Y], st.ag[e, a, AG_X]
        fy, fx = y + _DY[o], x + _DX[o]
        front_ok = _in_bounds(st.kind, fy, fx)
        if typ == _A_NOOP:
            ok = True
        elif typ == _A_MOVE:
            ty, tx = (fy, fx) if arg == 0 else (y - _DY[o], x - _DX[o])
            if _in_bounds(st.kind, ty, tx) and st.kind[e, ty, tx] == 0 and st.agent_at[e, ty, tx] < 0:
                _move_agent(st, pr, e, a, ty, tx)
                ok = True
        elif typ == _A_ROTATE:
            st.ag[e, a, AG_ORI] = arg
            _render_cell(st, pr, e, y, x)
            ok = True
        elif typ == _A_PUT or typ == _A_GET:
            if front_ok and st.conv_at[e, fy, fx] >= 0:
                ok = _transfer(st, pr, e, a, st.conv_at[e, fy, fx], typ == _A_PUT)
        elif typ == _A_ATTACK:
            ok = _attack(st, pr, e, a, arg)
        elif typ == _A_SWAP:
            k = st.kind[e, fy, fx] if front_ok else 0
            if k > 0 and st.agent_at[e, fy, fx] < 0 and pr.misc[e, MISC_SWAPPABLE + k]:
                st.kind[e, y, x] = k
                st.kind[e, fy, fx] = 0
                _move_agent(st, pr, e, a, fy, fx)
                ok = True
    st.stats[e, a, STAT_ACTION + 2 * typ + (0 if ok else 1)] += 1
    return ok


@njit(cache=True, _nrt=False)
def _reward_level(st, pr, e, a):
    level = np.float32(0.0)
    for i in range(NUM_ITEMS):
        w = pr.rew[e, REW_WEIGHT, i]
        if w != 0.0:
            level += w * min(np.float32(st.ag_inv[e, a, i]), pr.rew[e, REW_CAP, i])
    return level


@njit(cache=True, _nrt=False)
def _render_obs(st, pr, geo, obs, e):
    # Unsigned indices: numba then skips negative-index wraparound, and LLVM vectorizes the row copies.
    A = st.ag.shape[1]
    row_len = np.uint64(geo.obs_w * _C)
    window = np.uint64(geo.obs_h) * row_len
    progress = min(255, st.env[e, ENV_TICK] * 255 // max(pr.misc[e, MISC_MAX_STEPS], 1))
    for a in range(A):
        g = np.uint64(e * A + a)
        y = np.uint64(st.ag[e, a, AG_Y])
        xo = np.uint64(st.ag[e, a, AG_X] * _C)
        for r in range(np.uint64(geo.obs_h)):
            src = st.feat[e, y + r]
            dst = r * row_len
            for j in range(row_len):
                obs[g, dst + j] = src[xo + j]
        for i in range(NUM_ITEMS):
            obs[g, window + np.uint64(_S_INV + i)] = min(st.ag_inv[e, a, i], 255)
        obs[g, window + np.uint64(_S_LAST)] = st.ag[e, a, AG_LAST_ACTION]
        obs[g, window + np.uint64(_S_SUCCESS)] = st.ag[e, a, AG_SUCCESS]
        obs[g, window + np.uint64(_S_PROGRESS)] = progress


@njit(cache=True, nogil=True, _nrt=False)
def step_envs(st, pr, geo, actions, obs, rewards, terminals, truncations, done):
    """Advance every environment one step; `done[e]` = 1 where an episode just ended."""
    E, A = st.ag.shape[0], st.ag.shape[1]
    for e in range(E):
        st.env[e, ENV_TICK] += 1
        start = _randint(st.rng, e, A)  # a random first mover each step; the rest follow in turn
        for k in range(A):
            a = (start + k) % A
            if st.ag[e, a, AG_FROZEN] > 0:
                st.ag[e, a, AG_FROZEN] -= 1
                st.stats[e, a, _S_FROZEN_TICKS] += 1
                st.ag[e, a, AG_SUCCESS] = 0
                if st.ag[e, a, AG_FROZEN] == 0:
                    _render_cell(st, pr, e, st.ag[e, a, AG_Y], st.ag[e, a, AG_X])
                continue
            action = actions[e * A + a]
            st.ag[e, a, AG_SUCCESS] = 1 if _act(st, pr, e, a, action) else 0
            st.ag[e, a, AG_LAST_ACTION] = action if 0 <= action < NUM_ACTIONS else 0
        _advance_converters(st, pr, e)
        ended = st.env[e, ENV_TICK] >= st.env[e, ENV_LIMIT]
        done[e] = 1 if ended else 0
        for a in range(A):
            g = e * A + a
            level = _reward_level(st, pr, e, a)
            r = level - st.ag_reward[e, a, AG_LEVEL]
            st.ag_reward[e, a, AG_LEVEL] = level
            st.ag_reward[e, a, AG_RETURN] += r
            rewards[g] = r
            terminals[g] = False
            truncations[g] = ended
        _render_obs(st, pr, geo, obs, e)


@njit(cache=True, _nrt=False)
def _place(st, pr, e, code, y, x, a):
    """Put agent `a` (code -1) or an object of kind `code` at (y, x)."""
    if code == -1:
        st.agent_at[e, y, x] = a
        st.ag[e, a, AG_Y] = y
        st.ag[e, a, AG_X] = x
        return
    st.kind[e, y, x] = code
    if code >= FIRST_CONVERTER:
        c = st.env[e, ENV_N_CONV]
        st.env[e, ENV_N_CONV] = c + 1
        st.conv_at[e, y, x] = c
        st.cv[e, c, CV_Y] = y
        st.cv[e, c, CV_X] = x
        st.cv[e, c, CV_KIND] = code
        st.cv[e, c, CV_STATE] = IDLE
        st.cv[e, c, CV_UNTIL] = 0
        for i in range(NUM_ITEMS):
            st.cv_inv[e, c, i] = pr.conv[e, code, CONV_INIT] if pr.conv[e, code, CONV_OUT + i] > 0 else 0


@njit(cache=True, _nrt=False)
def _place_room(st, pr, geo, e, room):
    oy = (room // geo.rooms_per_row) * (geo.room_h + 1) + 1
    ox = (room % geo.rooms_per_row) * (geo.room_w + 1) + 1
    cells = geo.room_h * geo.room_w
    a = room * geo.agents_per_room
    if pr.room_map[e, 0] != -2:
        for i in range(cells):
            code = pr.room_map[e, i]
            if code != 0:
                _place(st, pr, e, code, oy + i // geo.room_w, ox + i % geo.room_w, a)
            if code == -1:
                a += 1
        return
    idx = st.scratch[e]
    for i in range(cells):
        idx[i] = i
    n = geo.agents_per_room
    for k in range(1, NUM_KINDS):
        n += pr.misc[e, MISC_ROOM_COUNTS + k]
    for i in range(n):  # partial Fisher-Yates: the first n cells are a uniform random sample
        j = i + _randint(st.rng, e, cells - i)
        idx[i], idx[j] = idx[j], idx[i]
    p = 0
    for k in range(-1, NUM_KINDS):
        count = geo.agents_per_room if k == -1 else (pr.misc[e, MISC_ROOM_COUNTS + k] if k > 0 else 0)
        for _ in range(count):
            _place(st, pr, e, k, oy + idx[p] // geo.room_w, ox + idx[p] % geo.room_w, a)
            p += 1
            if k == -1:
                a += 1


@njit(cache=True, _nrt=False)
def reset_env(st, pr, geo, obs, e, first_episode_desync):
    """Build a fresh map for env `e` from its rng; a desync episode gets a random length."""
    H, W = st.kind.shape[1], st.kind.shape[2]
    st.kind[e] = 0
    st.agent_at[e] = -1
    st.conv_at[e] = -1
    st.feat[e] = 0
    st.env[e, ENV_N_CONV] = 0
    st.env[e, ENV_TICK] = 0
    for y in range(H):
        for x in range(W):
            in_room_row = y % (geo.room_h + 1) != 0
            in_room_col = x % (geo.room_w + 1) != 0
            room = (y // (geo.room_h + 1)) * geo.rooms_per_row + x // (geo.room_w + 1)
            if not (in_room_row and in_room_col) or room >= geo.rooms:
                st.kind[e, y, x] = _WALL
    st.ag[e] = 0
    st.ag_reward[e] = 0.0
    st.stats[e] = 0.0
    for room in range(geo.rooms):
        _place_room(st, pr, geo, e, room)
    for a in range(st.ag.shape[1]):
        for i in range(NUM_ITEMS):
            st.ag_inv[e, a, i] = min(pr.items[e, ITEM_INIT, i], pr.items[e, ITEM_LIMIT, i])
        st.ag_reward[e, a, AG_LEVEL] = _reward_level(st, pr, e, a)
    for c in range(st.env[e, ENV_N_CONV]):
        _maybe_start(st, pr, e, c)
    for y in range(H):
        for x in range(W):
            _render_cell(st, pr, e, y, x)
    max_steps = pr.misc[e, MISC_MAX_STEPS]
    st.env[e, ENV_LIMIT] = 1 + _randint(st.rng, e, max_steps) if first_episode_desync else max_steps
    _render_obs(st, pr, geo, obs, e)
