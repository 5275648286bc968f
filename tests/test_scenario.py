"""The scenario language: loading, inheritance, overrides, bundled what-ifs, and bad input.

Every bad input must give ``ScenarioError`` whose lines read ``file: key.path: reason``; the
table below pins the exact messages a CFO's analyst will see.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import sim
from sim.scenario.io import json_schema, scenario_to_dict

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"
WHAT_IFS = sorted(p for p in SCENARIOS.glob("*.yaml") if p.name != "baseline.yaml")
EXPECTED_WHAT_IFS = {
    "price_increase", "discount_cap", "partner_push", "cs_investment", "efficient_growth",
    "enterprise_focus",
}
LINE = re.compile(r"^[^:\n]+: [^:\n]+: [^\n]+$")
"""One problem: ``file: key.path: reason`` on a single line."""


@pytest.fixture(scope="module")
def baseline() -> sim.Scenario:
    return sim.load_scenario(BASELINE)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def leaves(data, prefix: str = "") -> dict[str, object]:
    """Flatten mappings to dotted keys; lists and scalars are leaves (lists merge whole)."""
    out: dict[str, object] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(leaves(value, path + "."))
        else:
            out[path] = value
    return out


def planned(role, month: int) -> int:
    """Headcount of a role in a plan month: start count plus hiring steps so far."""
    return role.count + sum(h.add for h in role.hiring_plan if h.month <= month)


def load_error(path, overrides=None) -> list[str]:
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(path, overrides=overrides)
    return info.value.lines


# ---------------------------------------------------------------- loading


def test_baseline_loads_typed_and_frozen(baseline):
    assert baseline.name == "baseline"
    assert baseline.description
    assert set(baseline.segments) == {"smb", "mid_market", "enterprise"}
    assert 36 <= baseline.horizon_months <= 60
    with pytest.raises(ValidationError):
        baseline.horizon_months = 12  # frozen: a scenario never changes under a running model


def test_hash_is_stable_and_content_based(baseline):
    again = sim.load_scenario(BASELINE)
    assert sim.scenario_hash(again) == sim.scenario_hash(baseline)
    assert re.fullmatch(r"[0-9a-f]{12}", sim.scenario_hash(baseline))
    moved = sim.with_overrides(baseline, {"pricing.annual_uplift_frac": 0.05})
    assert sim.scenario_hash(moved) != sim.scenario_hash(baseline)


def test_resolved_yaml_round_trips_to_the_same_hash(tmp_path, baseline):
    for scenario in [baseline, *(sim.load_scenario(p) for p in WHAT_IFS)]:
        text = sim.scenario_to_yaml(scenario, seed=7)
        assert text.startswith(f"# scenario hash: {sim.scenario_hash(scenario)}\n# seed: 7\n")
        path = write(tmp_path, f"resolved_{scenario.name}.yaml", text)
        again = sim.load_scenario(path)
        assert again == scenario
        assert sim.scenario_hash(again) == sim.scenario_hash(scenario)


def test_json_schema_describes_the_file_format():
    schema = json_schema()
    props = schema["properties"]
    assert {"segments", "pricing", "channels", "extends", "horizon_months"} <= set(props)
    assert "name" not in schema.get("required", [])
    assert schema.get("additionalProperties") is False


# ---------------------------------------------------------------- inheritance


def test_chain_of_three_deep_merges_mappings_and_replaces_lists(here, baseline):
    write(here, "mid.yaml", """
extends: baseline.yaml
name: mid-plan
description: The middle of the chain.
pricing:
  segments:
    smb: {list_price_usd: 700}
sales:
  teams:
    smb:
      hiring_plan:
        - {month: 3, add: 1}
""")
    write(here, "leaf.yaml", """
extends: mid.yaml
pricing:
  segments:
    smb: {discount_cap_frac: 0.1}
segments:
  smb:
    sales_cycle_days: {median: 30}
""")
    leaf = sim.load_scenario("leaf.yaml")
    smb = leaf.pricing.segments["smb"]
    assert smb.list_price_usd == 700  # from the middle
    assert smb.discount_cap_frac == 0.1  # from the leaf
    assert leaf.pricing.segments["enterprise"] == baseline.pricing.segments["enterprise"]
    # the list is replaced whole, not merged item by item with the baseline's two steps
    assert [(h.month, h.add) for h in leaf.sales.teams["smb"].hiring_plan] == [(3, 1)]
    # a partial distribution mapping keeps the parent's other parameters
    cycle = leaf.segments["smb"].sales_cycle_days
    base_cycle = baseline.segments["smb"].sales_cycle_days
    assert (cycle.dist, cycle.median, cycle.sigma) == ("lognormal", 30, base_cycle.sigma)
    # everything the chain does not touch is the baseline's
    changed = {k for k, v in leaves(scenario_to_dict(leaf)).items()
               if leaves(scenario_to_dict(baseline)).get(k) != v}
    assert changed == {
        "name", "description", "pricing.segments.smb.list_price_usd", "pricing.segments.smb.discount_cap_frac",
        "sales.teams.smb.hiring_plan", "segments.smb.sales_cycle_days.median",
    }


def test_name_and_description_are_never_inherited(here):
    write(here, "mid.yaml", "extends: baseline.yaml\nname: middle\ndescription: Middle.\n")
    write(here, "leaf.yaml", "extends: mid.yaml\nhorizon_months: 24\n")
    mid, leaf = sim.load_scenario("mid.yaml"), sim.load_scenario("leaf.yaml")
    assert (mid.name, mid.description) == ("middle", "Middle.")
    assert (leaf.name, leaf.description) == ("leaf", "")


def test_extends_is_relative_to_the_file_not_the_working_directory(here, tmp_path, monkeypatch):
    sub = tmp_path / "plans" / "2026"
    sub.mkdir(parents=True)
    write(sub, "q1.yaml", "extends: ../../baseline.yaml\nhorizon_months: 12\n")
    monkeypatch.chdir(sub.parent)
    assert sim.load_scenario(sub / "q1.yaml").horizon_months == 12


def test_a_distribution_can_be_replaced_by_a_number(here):
    write(here, "fixed.yaml", "extends: baseline.yaml\nsegments: {smb: {seats: 12}}\n")
    seats = sim.load_scenario("fixed.yaml").segments["smb"].seats
    assert (seats.dist, seats.value) == ("fixed", 12)


def test_a_distribution_of_another_kind_replaces_the_parent_whole(here):
    write(here, "gamma.yaml", """
extends: baseline.yaml
segments:
  smb:
    seats: {dist: gamma, shape: 2, scale: 6}
""")
    seats = sim.load_scenario("gamma.yaml").segments["smb"].seats
    assert (seats.dist, seats.shape, seats.scale) == ("gamma", 2, 6)


# ---------------------------------------------------------------- overrides


def test_overrides_from_strings_and_mappings(baseline):
    key = "pricing.segments.smb.list_price_usd"
    by_text = sim.load_scenario(BASELINE, overrides=[f"{key}=1200", "horizon_months=12"])
    by_map = sim.load_scenario(BASELINE, overrides={key: 1200, "horizon_months": 12})
    assert by_text == by_map
    assert by_text.pricing.segments["smb"].list_price_usd == 1200
    assert by_text.horizon_months == 12
    assert by_text.pricing.segments["mid_market"] == baseline.pricing.segments["mid_market"]


def test_with_overrides_returns_a_new_validated_scenario(baseline):
    moved = sim.with_overrides(baseline, ["channels.partner.commission_frac=0.3"])
    assert moved.channels.partner.commission_frac == 0.3
    assert baseline.channels.partner.commission_frac != 0.3  # the original is untouched
    assert sim.with_overrides(moved, {"channels.partner.commission_frac":
                                      baseline.channels.partner.commission_frac}) == baseline
    # a whole distribution can be given as a YAML mapping
    moved = sim.with_overrides(baseline, ["segments.smb.seats={dist: gamma, shape: 2, scale: 6}"])
    assert moved.segments["smb"].seats.dist == "gamma"
    with pytest.raises(sim.ScenarioError) as info:
        sim.with_overrides(baseline, ["sales.commission_frac=1.5"])
    assert info.value.lines == [
        "baseline (--set): sales.commission_frac: must be <= 1 (got 1.5)"]


@pytest.mark.parametrize(("overrides", "expected"), [
    (["pricing.segments.smb.discount_cap_frac=1.5"],
     "baseline.yaml (--set): pricing.segments.smb.discount_cap_frac: must be <= 1 (got 1.5)"),
    (["pricing.segmnts.smb.list_price_usd=5"],
     "baseline.yaml (--set): pricing.segmnts: unknown key (did you mean 'segments'?)"),
    (["pricing.segments.smb.list_pric=5"],
     "baseline.yaml (--set): pricing.segments.smb.list_pric: unknown key "
     "(did you mean 'list_price_usd'?)"),
    (["horizon_months=soon"],
     "baseline.yaml (--set): horizon_months: expected a whole number (got 'soon')"),
    (["horizon_months"], "--set horizon_months: (override): expected key.path=value"),
    (["horizon months=3"], "--set horizon months: (override): not a valid key path"),
    (["segments.smb.contracts.0.share_frac=1"],
     "--set segments.smb.contracts.0.share_frac: segments.smb.contracts: is a list, "
     "not a mapping"),
    (["horizon_months=[1"], "--set horizon_months: (override): value '[1' is not valid"),
])
def test_bad_overrides_give_one_clean_line(here, overrides, expected):
    assert load_error("baseline.yaml", overrides) == [expected]


def test_name_can_be_overridden(here):
    assert sim.load_scenario("baseline.yaml", overrides=["name=offsite"]).name == "offsite"


# ---------------------------------------------------------------- bundled what-ifs


def test_the_six_what_ifs_are_bundled():
    assert {p.stem for p in WHAT_IFS} >= EXPECTED_WHAT_IFS


@pytest.mark.parametrize("path", WHAT_IFS, ids=lambda p: p.stem)
def test_what_if_extends_baseline_and_sets_only_what_it_changes(path, baseline):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw.pop("extends") == "baseline.yaml"
    description = raw.pop("description")
    assert isinstance(description, str) and len(description) > 60  # a CFO can read it
    assert "name" not in raw  # the name is the file name
    scenario = sim.load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.description == description
    assert sim.scenario_hash(scenario) != sim.scenario_hash(baseline)
    mine, base = leaves(scenario_to_dict(scenario)), leaves(scenario_to_dict(baseline))
    changed = {k for k in mine.keys() | base.keys() if mine.get(k) != base.get(k)}
    assert changed - {"name", "description"} == set(leaves(raw))


def test_price_increase_is_eight_percent_on_every_list_price(baseline):
    s = sim.load_scenario(SCENARIOS / "price_increase.yaml")
    for seg, price in baseline.pricing.segments.items():
        new = s.pricing.segments[seg]
        assert new.list_price_usd == pytest.approx(price.list_price_usd * 1.08, abs=0.005)
        assert new.discount_cap_frac == price.discount_cap_frac


def test_discount_cap_is_fifteen_percent_everywhere_and_binds(baseline):
    s = sim.load_scenario(SCENARIOS / "discount_cap.yaml")
    for seg, price in baseline.pricing.segments.items():
        assert price.discount_cap_frac > 0.15
        assert s.pricing.segments[seg].discount_cap_frac == 0.15


def test_partner_push_adds_partners_and_commission(baseline):
    s = sim.load_scenario(SCENARIOS / "partner_push.yaml")
    base, push = baseline.channels.partner, s.channels.partner
    assert push.commission_frac == 0.25 > base.commission_frac
    values = [step.value for step in sorted(push.partner_plan, key=lambda p: p.month)]
    assert values == sorted(values) and values[0] > base.active_partners
    assert values[-1] >= 2 * base.active_partners


def test_cs_investment_adds_two_onboarding_and_three_csms_from_month_two(baseline):
    s = sim.load_scenario(SCENARIOS / "cs_investment.yaml")
    for month in range(1, s.horizon_months + 1):
        extra = 0 if month == 1 else 1
        assert planned(s.headcount.csm, month) - planned(baseline.headcount.csm, month) \
            == 3 * extra
        assert planned(s.headcount.onboarding, month) \
            - planned(baseline.headcount.onboarding, month) == 2 * extra


def test_efficient_growth_cuts_marketing_twenty_percent_for_the_whole_plan(baseline):
    s = sim.load_scenario(SCENARIOS / "efficient_growth.yaml")
    inbound = s.channels.inbound
    assert inbound.budget_per_month_usd == pytest.approx(
        0.8 * baseline.channels.inbound.budget_per_month_usd)
    assert inbound.budget_plan == [] == baseline.channels.inbound.budget_plan


def test_enterprise_focus_shifts_spend_and_effort_and_adds_two_enterprise_aes(baseline):
    s = sim.load_scenario(SCENARIOS / "enterprise_focus.yaml")
    for channel in ("inbound", "outbound"):
        new = getattr(s.channels, channel).segment_mix
        old = getattr(baseline.channels, channel).segment_mix
        assert new["enterprise"] > old["enterprise"]
        assert new["smb"] < old["smb"]
    for month in range(2, s.horizon_months + 1):
        for team in ("smb", "mid_market"):
            assert planned(s.sales.teams[team], month) == planned(baseline.sales.teams[team], month)
        assert planned(s.sales.teams["enterprise"], month) \
            - planned(baseline.sales.teams["enterprise"], month) == 2


def test_upmarket_shift_moves_spend_effort_and_aes_to_enterprise(baseline):
    s = sim.load_scenario(SCENARIOS / "upmarket_shift.yaml")
    assert s.channels.inbound.budget_per_month_usd == baseline.channels.inbound.budget_per_month_usd
    for channel in ("inbound", "outbound"):
        new = getattr(s.channels, channel).segment_mix
        old = getattr(baseline.channels, channel).segment_mix
        assert new["enterprise"] >= 0.6 > old["enterprise"]
    for month in range(2, s.horizon_months + 1):
        moved = {team: planned(s.sales.teams[team], month)
                 - planned(baseline.sales.teams[team], month) for team in s.sales.teams}
        assert moved == {"smb": -1, "mid_market": -1, "enterprise": 4}


# ---------------------------------------------------------------- bad input, exact messages

PARENT_OUT_OF_RANGE = {
    "parent.yaml": "extends: baseline.yaml\nhorizon_months: 500\n",
    "bad.yaml": "extends: parent.yaml\ndescription: Looks fine, but its parent is not.\n",
}

BAD_INPUTS = [
    ("unknown key with suggestion", "extends: baseline.yaml\nhorizon_month: 24\n",
     ["bad.yaml: horizon_month: unknown key (did you mean 'horizon_months'?)"]),
    ("nested unknown key", "extends: baseline.yaml\npricing:\n  segments:\n"
     "    smb: {list_price: 700}\n",
     ["bad.yaml: pricing.segments.smb.list_price: unknown key (did you mean 'list_price_usd'?)"]),
    ("wrong type", "extends: baseline.yaml\nhorizon_months: three\n",
     ["bad.yaml: horizon_months: expected a whole number (got 'three')"]),
    ("mapping expected", "extends: baseline.yaml\npricing: 5\n",
     ["bad.yaml: pricing: expected a mapping (got 5)"]),
    ("whole number expected", "extends: baseline.yaml\nheadcount: {sdr: {count: 2.5}}\n",
     ["bad.yaml: headcount.sdr.count: expected a whole number (got 2.5)"]),
    ("segment in two teams", "extends: baseline.yaml\nsales:\n  teams:\n"
     "    smb: {segments: [smb, enterprise]}\n",
     ["bad.yaml: sales.teams.smb.segments: segment 'enterprise' is also covered by team "
      "'enterprise' (each segment has one team)"]),
    ("unknown segment in a team", "extends: baseline.yaml\nsales:\n  teams:\n"
     "    smb: {segments: [smb, micro]}\n",
     ["bad.yaml: sales.teams.smb.segments: unknown segment 'micro' (segments are "
      "['enterprise', 'mid_market', 'smb'])"]),
    ("out of range", "extends: baseline.yaml\nhorizon_months: 500\n",
     ["bad.yaml: horizon_months: must be <= 120 (got 500)"]),
    ("negative money", "extends: baseline.yaml\npricing:\n  segments:\n"
     "    smb: {list_price_usd: -5}\n",
     ["bad.yaml: pricing.segments.smb.list_price_usd: money must not be negative (got -5)"]),
    ("probability above 1", "extends: baseline.yaml\npricing:\n  segments:\n"
     "    smb: {discount_cap_frac: 1.5}\n",
     ["bad.yaml: pricing.segments.smb.discount_cap_frac: must be <= 1 (got 1.5)"]),
    ("probability below 0", "extends: baseline.yaml\nsegments: {smb: {logo_retention_12m_frac: -0.1}}\n",
     ["bad.yaml: segments.smb.logo_retention_12m_frac: must be >= 0 (got -0.1)"]),
    ("unknown contract term", "extends: baseline.yaml\nsegments:\n  smb:\n    contracts:\n"
     "      - {term_months: 5, billing: monthly, share_frac: 1}\n",
     ["bad.yaml: segments.smb.contracts.0.term_months: must be one of 1, 12, 24 or 36 (got 5)"]),
    ("shares do not sum to 1", "extends: baseline.yaml\nchannels:\n  inbound:\n"
     "    segment_mix: {smb: 0.5, mid_market: 0.23, enterprise: 0.03}\n",
     ["bad.yaml: channels.inbound.segment_mix: must sum to 1 (got 0.76)"]),
    ("unknown distribution", "extends: baseline.yaml\nsegments:\n  smb:\n"
     "    sales_cycle_days: {dist: weird}\n",
     ["bad.yaml: segments.smb.sales_cycle_days: unknown distribution 'weird' (expected one of "
      "beta, exponential, fixed, gamma, lognormal, triangular)"]),
    ("bad distribution parameter", "extends: baseline.yaml\nsegments:\n  smb:\n"
     "    sales_cycle_days: {median: -3}\n",
     ["bad.yaml: segments.smb.sales_cycle_days.median: must be > 0 (got -3)"]),
    ("two problems, two lines", "extends: baseline.yaml\nhorizon_months: 0\n"
     "sales: {commission_frac: 2}\n",
     ["bad.yaml: horizon_months: must be >= 1 (got 0)",
      "bad.yaml: sales.commission_frac: must be <= 1 (got 2)"]),
    ("problem in the parent names the parent", PARENT_OUT_OF_RANGE,
     ["parent.yaml: horizon_months: must be <= 120 (got 500)"]),
    ("missing extends target", "extends: nothere.yaml\n",
     ["bad.yaml: extends: file not found: 'nothere.yaml'"]),
    ("extends not a file name", "extends: 5\n",
     ["bad.yaml: extends: expected a file name (got 5)"]),
    ("extends itself", "extends: bad.yaml\n", ["bad.yaml: extends: cycle bad.yaml -> bad.yaml"]),
    ("extends cycle", {"bad.yaml": "extends: other.yaml\n", "other.yaml": "extends: bad.yaml\n"},
     ["bad.yaml: extends: cycle bad.yaml -> other.yaml -> bad.yaml"]),
    ("malformed YAML", "extends: baseline.yaml\nhorizon_months: 24\n  oops: indent\n",
     ["bad.yaml: line 3, column 7: malformed YAML: mapping values are not allowed here"]),
    ("unclosed bracket", "horizon_months: 12\nsegments: [a, b\n",
     ["bad.yaml: line 3, column 1: malformed YAML: expected ',' or ']', but got '<stream end>'"]),
    ("tab indentation", "a: 1\n\t b: 2\n",
     ["bad.yaml: line 2, column 1: malformed YAML: found character '\\t' that cannot start any "
      "token"]),
    ("unknown local tag", "horizon_months: !env MONTHS\n",
     ["bad.yaml: line 1, column 17: unsafe or unknown YAML tag !env rejected "
      "(tags are never executed)"]),
    ("duplicate key", "horizon_months: 12\nhorizon_months: 24\n",
     ["bad.yaml: line 2, column 1: duplicate key 'horizon_months'"]),
    ("empty file", "", ["bad.yaml: (file): file is empty; expected a mapping of scenario keys"]),
    ("only comments", "# to do\n",
     ["bad.yaml: (file): file is empty; expected a mapping of scenario keys"]),
    ("a list, not a mapping", "- a\n- b\n",
     ["bad.yaml: (file): expected a mapping of scenario keys (got list)"]),
    ("a scalar, not a mapping", "hello\n",
     ["bad.yaml: (file): expected a mapping of scenario keys (got str)"]),
    ("yes is not the integer 1", "extends: baseline.yaml\nheadcount: {csm: {count: yes}}\n",
     ["bad.yaml: headcount.csm.count: expected a number, not true (YAML reads yes/no/on/off as "
      "true/false)"]),
    ("on is not the number 1", "extends: baseline.yaml\nsales: {commission_frac: on}\n",
     ["bad.yaml: sales.commission_frac: expected a number, not true (YAML reads yes/no/on/off "
      "as true/false)"]),
    ("enormous integer", "extends: baseline.yaml\nsegments: {smb: {market_size_accounts: 1"
     + "0" * 400 + "}}\n",
     ["bad.yaml: segments.smb.market_size_accounts: must be <= 1000000000 "
      "(got a number of 401 digits)"]),
    ("money too large", "extends: baseline.yaml\ncosts: {fixed_opex_per_month_usd: 1.0e+308}\n",
     ["bad.yaml: costs.fixed_opex_per_month_usd: must be <= 1000000000000 (got 1e+308)"]),
    ("rate too large", "extends: baseline.yaml\nchannels: {outbound: "
     "{fresh_leads_per_sdr_per_month: {smb: 1.0e+9}}}\n",
     ["bad.yaml: channels.outbound.fresh_leads_per_sdr_per_month.smb: must be <= 100000 "
      "(got 1000000000)"]),
    ("nested too deeply", "extends: baseline.yaml\ndescription: " + "[" * 40 + "]" * 40 + "\n",
     ["bad.yaml: line 2, column 45: nested deeper than 32 levels (limit MAX_NESTING_DEPTH)"]),
]


@pytest.mark.parametrize(("files", "expected"), [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gives_exact_one_line_messages(here, files, expected):
    for name, text in ({"bad.yaml": files} if isinstance(files, str) else files).items():
        write(here, name, text)
    lines = load_error("bad.yaml")
    assert lines == expected
    assert all(LINE.match(line) for line in lines)


def test_missing_and_unreadable_files(here):
    assert load_error("nope.yaml") == ["nope.yaml: (file): file not found"]
    (here / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    assert load_error("binary.yaml") == ["binary.yaml: (file): cannot read (UnicodeDecodeError)"]


def test_unsafe_tag_is_rejected_and_never_executed(here):
    marker = here / "pwned"
    write(here, "bad.yaml",
          f'horizon_months: !!python/object/apply:os.system ["touch {marker}"]\n')
    lines = load_error("bad.yaml")
    assert len(lines) == 1
    assert lines[0].startswith("bad.yaml: line 1, column 17: unsafe or unknown YAML tag ")
    assert "python/object/apply:os.system" in lines[0]
    assert lines[0].endswith("rejected (tags are never executed)")
    assert not marker.exists()


@pytest.mark.parametrize("value", ["!!int abc", "!!float x", "!!timestamp x", "!!bool maybe",
                                   "!!map [1]"])
def test_badly_tagged_values_give_one_clean_line(here, value):
    write(here, "bad.yaml", f"extends: baseline.yaml\nhorizon_months: {value}\n")
    lines = load_error("bad.yaml")
    assert len(lines) == 1 and lines[0].startswith("bad.yaml: line 2, column 17: ")
    lines = load_error("baseline.yaml", [f"horizon_months={value}"])
    assert len(lines) == 1 and lines[0].startswith("--set horizon_months: ")


# ---------------------------------------------------------------- property tests on overrides

PROBABILITY_KEYS = [
    "pricing.segments.smb.discount_cap_frac",
    "pricing.annual_uplift_frac",
    "segments.enterprise.logo_retention_12m_frac",
    "segments.mid_market.monthly_logo_retention_12m_frac",
    "channels.partner.commission_frac",
    "channels.inbound.qualify_prob_frac.smb",
    "sales.commission_frac",
    "costs.hosting_support_frac_of_revenue",
    "account_plan.critic_prob_frac",
]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def value_at(scenario: sim.Scenario, dotted: str):
    node = scenario_to_dict(scenario)
    for part in dotted.split("."):
        node = node[part]
    return node


def assert_one_clean_line(exc: sim.ScenarioError, key: str) -> str:
    assert len(exc.lines) == 1, exc.lines
    line = exc.lines[0]
    assert LINE.match(line), line
    assert f": {key}: " in line, line
    return line


@FUZZ
@given(key=st.sampled_from(PROBABILITY_KEYS), value=st.floats(0, 1))
def test_any_probability_in_range_loads(baseline, key, value):
    moved = sim.with_overrides(baseline, {key: value})
    assert value_at(moved, key) == value
    assert sim.with_overrides(baseline, [f"{key}={value!r}"]) == moved


@FUZZ
@given(key=st.sampled_from(PROBABILITY_KEYS),
       value=st.one_of(st.floats(max_value=0, exclude_max=True), st.floats(min_value=1,
                       exclude_min=True), st.just(math.nan), st.integers(2, 10**6)))
def test_a_probability_out_of_range_gives_one_clean_line(baseline, key, value):
    with pytest.raises(sim.ScenarioError) as info:
        sim.with_overrides(baseline, {key: value})
    line = assert_one_clean_line(info.value, key)
    assert re.search(r": must be ((<=|>=) [01]|a finite number) \(got .+\)$", line), line


NOT_NUMBERS = st.one_of(
    st.text().map(lambda t: "x" + t),  # text that can never parse as a number
    st.lists(st.floats(0, 1), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.dates(),
    st.datetimes(min_value=dt.datetime(1900, 1, 1)),
    st.none(),
)


@FUZZ
@given(key=st.sampled_from(PROBABILITY_KEYS), value=NOT_NUMBERS)
def test_a_probability_of_the_wrong_type_gives_one_clean_line(baseline, key, value):
    with pytest.raises(sim.ScenarioError) as info:
        sim.with_overrides(baseline, {key: value})
    line = assert_one_clean_line(info.value, key)
    assert "expected a number (got " in line, line


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                               max_size=3),
    max_leaves=8,
)


@FUZZ
@given(key=st.sampled_from(PROBABILITY_KEYS), value=JSONISH)
def test_any_value_either_loads_in_range_or_gives_one_clean_line(baseline, key, value):
    try:
        moved = sim.with_overrides(baseline, {key: value})
    except sim.ScenarioError as exc:
        assert_one_clean_line(exc, key)
    else:
        assert 0 <= value_at(moved, key) <= 1


@FUZZ
@given(key=st.sampled_from(PROBABILITY_KEYS), text=st.text(max_size=30))
def test_any_set_text_either_loads_in_range_or_gives_one_clean_line(baseline, key, text):
    """What an analyst types after ``--set key=``: never a traceback."""
    try:
        moved = sim.with_overrides(baseline, [f"{key}={text}"])
    except sim.ScenarioError as exc:
        assert len(exc.lines) == 1 and "\n" not in exc.lines[0]
        assert exc.lines[0].count(": ") >= 2
    else:
        assert 0 <= value_at(moved, key) <= 1


def test_a_boolean_is_not_a_probability(baseline):
    with pytest.raises(sim.ScenarioError):
        sim.with_overrides(baseline, {"sales.commission_frac": True})


def test_every_segment_needs_exactly_one_team_and_a_response_curve_where_it_gets_a_share(
        baseline):
    d = scenario_to_dict(baseline)
    d["sales"]["teams"]["enterprise"]["segments"] = ["mid_market"]
    with pytest.raises(ValueError) as err:
        sim.Scenario.model_validate(d)
    text = str(err.value)
    assert "segment 'mid_market' is also covered by team 'enterprise'" in text
    assert "no team covers segment 'enterprise'" in text
    d = scenario_to_dict(baseline)
    del d["channels"]["outbound"]["fresh_leads_per_sdr_per_month"]["enterprise"]
    with pytest.raises(ValueError, match="channels.outbound.fresh_leads_per_sdr_per_month: no "
                                         "value for segment 'enterprise'"):
        sim.Scenario.model_validate(d)
    d["channels"]["outbound"]["segment_mix"] = {"smb": 0.5, "mid_market": 0.5, "enterprise": 0.0}
    assert sim.Scenario.model_validate(d).channels.outbound.segment_mix["enterprise"] == 0.0


def test_a_pooled_team_is_one_line_and_replaces_the_parents_teams(here, baseline):
    write(here, "pooled.yaml", "extends: baseline.yaml\nsales:\n  teams: {all: {segments: "
          "[smb, mid_market, enterprise], count: 14, loaded_cost_per_month_usd: 24000, "
          "concurrent_deals_per_ae: 16}}\n")
    s = sim.load_scenario("pooled.yaml")
    assert list(s.sales.teams) == ["all"]
    team = s.sales.teams["all"]
    assert (team.count, team.concurrent_deals_per_ae, team.ramp_months) == (14, 16, 5.0)
    # naming only teams the parent has changes just those
    write(here, "one.yaml", "extends: baseline.yaml\nsales:\n  teams: {smb: {count: 3}}\n")
    s = sim.load_scenario("one.yaml")
    assert list(s.sales.teams) == list(baseline.sales.teams)
    assert s.sales.teams["smb"].count == 3
    assert s.sales.teams["enterprise"] == baseline.sales.teams["enterprise"]


def test_a_newline_in_a_file_name_cannot_split_an_error_or_fake_an_ok_line(tmp_path):
    path = tmp_path / "x\nok  fine.yaml"
    path.write_text("extends: " + str(ROOT / "scenarios" / "baseline.yaml") + "\nbogus_key: 1\n")
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(path)
    assert len(err.value.lines) == 1
    assert "\n" not in err.value.lines[0]
    assert "x\\nok  fine.yaml: bogus_key: unknown key" in err.value.lines[0]
