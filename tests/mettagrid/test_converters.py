"""Converters: timing, cooldown, max_output, partial puts, and the spec 003 timeline."""

import pytest

from tests.mettagrid.helpers import View, action, room_env, rotate, step1

# Agent between a mine (left) and a generator (right), altar below.
CHAIN = ["m@g", ".a."]
FACING = {"mine": ("left", 0, -1), "generator": ("right", 0, 1), "altar": ("down", 1, 0)}


def chain_policy(view: View) -> int:
    """Walks the chain greedily: hearts, then batteries to the altar, ore to the generator."""
    if view.at(*FACING["altar"][1:], "converter:output"):
        target, verb = "altar", "get_items"
    elif view.inv("battery_red"):
        target, verb = "altar", "put_items"
    elif view.at(*FACING["generator"][1:], "converter:output"):
        target, verb = "generator", "get_items"
    elif view.inv("ore_red"):
        target, verb = "generator", "put_items"
    else:
        target, verb = "mine", "get_items"
    direction = FACING[target][0]
    if view.orientation != direction:
        return rotate(direction)
    if verb == "get_items" and not view.at(*FACING[target][1:], "converter:output"):
        return action("noop")
    return action(verb)


def first_heart_step(env, limit: int = 400) -> int:
    for t in range(1, limit + 1):
        step1(env, chain_policy(View(env)))
        if View(env).inv("heart"):
            return t
    raise AssertionError(f"no heart within {limit} steps")


def test_easy_altar_first_heart_not_before_85_steps():
    env = room_env(CHAIN, game__objects__altar={"input_resources": {"battery_red": 1}, "output_resources": {"heart": 1}, "conversion_ticks": 10, "cooldown": 10})
    t = first_heart_step(env)
    assert 85 <= t <= 100, t


def test_three_battery_altar_first_heart_not_before_235_steps():
    env = room_env(CHAIN)  # default altar: 3 batteries
    t = first_heart_step(env)
    assert 235 <= t <= 300, t


def test_mine_outputs_after_conversion_then_cools_down():
    env = room_env(["m@"], max_steps=500)
    left = (0, -1)
    seen = []
    for t in range(1, 260):
        step1(env, action("noop"))
        v = View(env)
        seen.append((t, v.at(*left, "converter:output"), v.at(*left, "converter:converting"), v.at(*left, "converter:cooling")))
    by_t = {t: rest for t, *rest in seen}
    assert by_t[49] == [0, 1, 0]  # converting for conversion_ticks = 50
    assert by_t[50] == [1, 0, 1]  # first ore at step 50, then a 50-step cooldown
    assert by_t[99] == [1, 0, 1]
    assert by_t[100] == [1, 1, 0]  # next conversion starts when the cooldown ends
    assert by_t[150] == [2, 0, 1]


def test_max_output_stops_production_until_taken():
    env = room_env(["m@"], game__objects__mine_red={"output_resources": {"ore_red": 1}, "max_output": 2, "conversion_ticks": 1, "cooldown": 0})
    for _ in range(10):
        step1(env, action("noop"))
    v = View(env)
    assert v.at(0, -1, "converter:output") == 2
    assert v.at(0, -1, "converter:converting") == 0
    step1(env, rotate("left"))
    step1(env, action("get_items"))
    assert View(env).inv("ore_red") == 2
    step1(env, action("noop"))
    assert View(env).at(0, -1, "converter:output") >= 1  # production resumed


def test_inventory_limit_caps_what_an_agent_takes():
    env = room_env(
        ["m@"],
        game__objects__mine_red={"output_resources": {"ore_red": 1}, "initial_resource_count": 5, "conversion_ticks": 100},
        game__agent__resource_limits={"ore_red": 2},
    )
    step1(env, rotate("left"))
    step1(env, action("get_items"))
    v = View(env)
    assert v.inv("ore_red") == 2
    assert v.at(0, -1, "converter:output") == 3


def test_partial_puts_fill_a_three_battery_altar():
    env = room_env(["@a"], game__agent__initial_inventory={"battery_red": 1})
    step1(env, rotate("right"))
    step1(env, action("put_items"))
    v = View(env)
    assert v.inv("battery_red") == 0
    assert v.at(0, 1, "converter:converting") == 0  # holds 1 of 3 inputs
    _, _, _, _, _ = step1(env, action("put_items"))
    assert View(env).own[-2] == 0  # last_action_success: nothing left to put


@pytest.mark.parametrize("verb", ["put_items", "get_items"])
def test_put_and_get_need_a_converter_in_front(verb):
    env = room_env(["@."], game__agent__initial_inventory={"ore_red": 1})
    step1(env, rotate("right"))
    step1(env, action(verb))
    assert View(env).own[-2] == 0
