# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/filter/byok.py: the public filters, as Ansible calls them."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
import yaml

try:
    from ansible_collections.llmcloud.factory_droid.plugins.filter import byok
except ImportError:  # plain pytest from the checkout: `make collection` links it under build/
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "build" / "collections"))
    from ansible_collections.llmcloud.factory_droid.plugins.filter import byok

from ansible.errors import AnsibleFilterError

ROOT = Path(byok.__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "byok" / "defaults" / "main.yml").read_text())
KEY = "llmc-filter-test-9f8e7d6c"
FILTERS = byok.FilterModule().filters()


def test_every_filter_is_documented_in_its_own_file():
    for name in FILTERS:
        doc = yaml.safe_load((ROOT / "plugins" / "filter" / (name + ".yml")).read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]["description"]
        documented = set(doc["DOCUMENTATION"]["options"]) - {"_input"}
        parameters = list(inspect.signature(FILTERS[name]).parameters)[1:]
        assert documented == set(parameters), name


def test_defaults_give_all_eight_catalog_models():
    entries = FILTERS["byok_custom_models"](
        DEFAULTS["byok_catalog"], models=DEFAULTS["byok_models"], url=DEFAULTS["byok_llmcloud_url"], api_key=KEY, key_mode="inline"
    )
    assert len(entries) == 8
    assert [e["displayName"] for e in entries] == [
        "Claude Opus 4.6",
        "Claude Opus 4.5 Thinking",
        "Claude Sonnet 4.6",
        "Claude Sonnet 4.5",
        "Claude Sonnet 4.5 Thinking",
        "Claude Haiku 4.5",
        "Gemini 3 Flash Preview",
        "Gemini 3 Pro Preview",
    ]
    assert FILTERS["byok_model_id"](entries, "anthropic/claude-sonnet-4.5") == "custom:llmcloud-anthropic-claude-sonnet-4.5"


def test_errors_become_filter_errors_without_the_key():
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS["byok_custom_models"](DEFAULTS["byok_catalog"], models=["nope/nope"], url="https://h", api_key=KEY)
    assert "byok_models" in str(info.value) and KEY not in str(info.value)
    with pytest.raises(AnsibleFilterError, match="byok_default_model"):
        FILTERS["byok_model_id"]([], "x")


def test_legacy_filter():
    entries = FILTERS["byok_custom_models"](DEFAULTS["byok_catalog"], models=["google/gemini-3-pro-preview"], url="http://127.0.0.1:9", key_mode="env")
    assert FILTERS["byok_legacy_models"](entries)[0]["base_url"] == "http://127.0.0.1:9/v1"


def test_only_the_filters_a_user_calls_are_public():
    # the role's plumbing goes through its internal lookup (plugins/lookup/byok_inputs.py), not a public filter
    assert sorted(FILTERS) == ["byok_custom_models", "byok_legacy_models", "byok_model_id"]
    assert sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml")) == sorted(FILTERS)
