"""Agent actions: move, rotate, swap, attack/freeze, disabled and out-of-range actions."""

import numpy as np
import pytest

from metta.mettagrid.layout import NUM_ACTIONS
from tests.mettagrid.helpers import View, action, room_env, rotate, stat, step1


def test_move_forward_and_backward_keep_orientation():
    env = room_env(["...", ".@.", "..."])
    step1(env, rotate("right"))
    step1(env, action("move", 0))
    v = View(env)
    assert v.orientation == "right"
    assert v.at(0, 1, "wall") == 1  # now next to the room's east wall
    step1(env, action("move", 1))
    step1(env, action("move", 1))
    assert View(env).at(0, -1, "wall") == 1
    assert stat(env, "action.move.success") == 3


@pytest.mark.parametrize("blocker", ["#", "m", "b", "@"])
def test_move_into_an_occupied_cell_fails(blocker):
    env = room_env(["@" + blocker])
    step1(env, rotate("right"))
    step1(env, action("move", 0))
    assert View(env).at(0, 1, "agent" if blocker == "@" else {"#": "wall", "m": "mine_red", "b": "block"}[blocker]) == 1
    assert stat(env, "action.move.failed") == 1


def test_swap_trades_places_with_a_block_but_not_a_wall():
    env = room_env(["@b#"])
    step1(env, rotate("right"))
    step1(env, action("swap"))
    v = View(env)
    assert v.at(0, -1, "block") == 1 and v.at(0, 1, "wall") == 1
    step1(env, action("swap"))  # a wall is not swappable
    assert stat(env, "action.swap.success") == 1 and stat(env, "action.swap.failed") == 1


def test_attack_freezes_the_target_and_takes_its_inventory():
    env = room_env(
        ["@@."],
        game__agent__initial_inventory={"laser": 1, "ore_red": 3},
        game__agent__freeze_duration=5,
    )
    step1(env, rotate("right"))
    step1(env, action("attack", 2))  # distance 1, straight ahead
    attacker, target = View(env, 0), View(env, 1)
    assert attacker.inv("laser") == 1  # spent its laser, took the target's
    assert attacker.inv("ore_red") == 6
    assert target.inv("ore_red") == 0 and target.inv("laser") == 0 and target.at(0, 0, "agent:frozen") == 1
    assert stat(env, "attack.hit") == 1 and stat(env, "status.frozen", a=1) == 1
    for _ in range(5):  # a frozen agent cannot act
        env.step(np.array([action("noop"), action("move", 1)], np.int32))
    assert View(env, 1).at(0, 0, "agent:frozen") == 0
    assert stat(env, "action.move.success", a=1) == 0
    env.step(np.array([action("noop"), rotate("right")], np.int32))
    env.step(np.array([action("noop"), action("move", 0)], np.int32))
    assert stat(env, "action.move.success", a=1) == 1


def test_armor_blocks_an_attack_and_is_spent():
    env = room_env(["@@"], game__agent__initial_inventory={"laser": 1, "armor": 1})
    step1(env, rotate("right"))
    step1(env, action("attack", 2))
    assert View(env, 1).inv("armor") == 0 and View(env, 1).at(0, 0, "agent:frozen") == 0
    assert stat(env, "attack.blocked") == 1


def test_attack_without_enough_lasers_fails():
    env = room_env(["@@"], game__actions__attack={"consumed_resources": {"laser": 100}},
                   game__agent__initial_inventory={"laser": 1})
    step1(env, rotate("right"))
    step1(env, action("attack", 2))
    assert View(env, 1).at(0, 0, "agent:frozen") == 0
    assert stat(env, "action.attack.failed") == 1


def test_disabled_action_always_fails():
    env = room_env(["@."], game__actions__move={"enabled": False})
    step1(env, rotate("right"))
    step1(env, action("move", 0))
    assert View(env).at(0, 1, "agent") == 0
    assert stat(env, "action.move.failed") == 1


@pytest.mark.parametrize("bad", [-1, NUM_ACTIONS, 10_000, -(2**31)])
def test_out_of_range_action_is_a_failed_action_not_a_crash(bad):
    env = room_env(["@."])
    step1(env, bad)
    assert View(env).own[-2] == 0  # last_action_success
    assert stat(env, "action.invalid") == 1
