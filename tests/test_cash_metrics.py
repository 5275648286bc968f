"""Burn multiple "n/m" where a year generates cash, with the FCF margin beside it, and the
magic number labelled by the quarter it measures (issue 23)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_metrics import INITIAL, build_monthly, cohort_frame

from sim.analysis import metrics as m
from sim.kpis import NOT_MEANINGFUL, fmt_value, label


def _cohorts():
    return cohort_frame({0: (100.0, 1_200_000.0)}, {}, 24)


def test_a_loss_making_year_that_collects_cash_reads_n_m_not_zero():
    # year 2 loses 50K a month on the P&L but collects 130K a month of prepayments on top of
    # revenue: cash grows, so there is no burn to divide; the FCF margin shows it
    months = np.arange(1, 25)
    other = np.where(months > 12, 130_000.0, 0.0)
    collected = np.where(months > 12, 230_000.0, 100_000.0)
    monthly = build_monthly(other_opex=other, cash_collected=collected)
    s = m.saas_metrics(monthly, _cohorts(), INITIAL)
    assert s.loc[2, "operating_margin_frac"] < 0
    assert math.isnan(s.loc[2, "burn_multiple"])
    fcf = (230_000 - 212_000) * 12  # collected − total cost (cogs 20K + 62K + 130K)
    assert fcf > 0
    assert s.loc[2, "fcf_margin_frac"] == pytest.approx(fcf / 1_200_000)
    kp = m.cfo_kpis(monthly, s)
    assert kp["fcf_margin_last_year"] == pytest.approx(s.loc[2, "fcf_margin_frac"])
    assert fmt_value("burn_multiple_last_year", kp["burn_multiple_last_year"]) == NOT_MEANINGFUL


def test_a_burning_year_keeps_its_burn_multiple_and_a_negative_fcf_margin():
    months = np.arange(1, 25)
    other = np.where(months > 12, 100_000.0, 0.0)
    monthly = build_monthly(other_opex=other)
    s = m.saas_metrics(monthly, _cohorts(), INITIAL)
    burn = 12 * 82_000.0  # 100K revenue collected − 182K of cost a month
    assert s.loc[2, "burn_multiple"] == pytest.approx(burn / s.loc[2, "net_new_arr"])
    assert s.loc[2, "fcf_margin_frac"] == pytest.approx(-burn / 1_200_000)
    assert fmt_value("burn_multiple_last_year", s.loc[2, "burn_multiple"]).endswith("×")


def test_magic_number_is_the_last_quarter_of_the_year_and_says_so():
    months = np.arange(1, 25)
    revenue = 100_000.0 + 1_000.0 * months  # +3K a month → +9K a quarter
    sm = np.where(months <= 21, 50_000.0, 80_000.0)  # S&M of Q4 of year 2 differs
    monthly = build_monthly(revenue=revenue, marketing_cost=sm)
    s = m.saas_metrics(monthly, _cohorts(), INITIAL)
    q4 = revenue[21:24].sum() - revenue[18:21].sum()
    assert s.loc[2, "magic_number"] == pytest.approx(q4 * 4 / ((50_000 + 20_000) * 3))
    assert "quarter" in label("magic_number_last_year")
    assert "last full year" in label("magic_number_last_year")
