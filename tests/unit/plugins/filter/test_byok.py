# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/filter/byok.py: the filters the byok role calls, as Ansible calls them."""

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


def test_defaults_have_no_problems():
    assert (
        FILTERS["byok_problems"](
            DEFAULTS["byok_catalog"],
            models=DEFAULTS["byok_models"],
            extra_models=DEFAULTS["byok_extra_models"],
            url=DEFAULTS["byok_llmcloud_url"],
            api_key=KEY,
            key_mode=DEFAULTS["byok_key_mode"],
            openai_provider=DEFAULTS["byok_openai_family_provider"],
            file_format=DEFAULTS["byok_format"],
            default_model=DEFAULTS["byok_default_model"],
            users=DEFAULTS["byok_users"],
            preflight=DEFAULTS["byok_preflight"],
            prune=DEFAULTS["byok_prune"],
        )
        == []
    )


def test_errors_become_filter_errors_without_the_key():
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS["byok_custom_models"](DEFAULTS["byok_catalog"], models=["nope/nope"], url="https://h", api_key=KEY)
    assert "byok_models" in str(info.value) and KEY not in str(info.value)
    with pytest.raises(AnsibleFilterError, match="byok_default_model"):
        FILTERS["byok_model_id"]([], "x")


def test_legacy_and_prune_and_targets_filters():
    entries = FILTERS["byok_custom_models"](DEFAULTS["byok_catalog"], models=["google/gemini-3-pro-preview"], url="http://127.0.0.1:9", key_mode="env")
    assert FILTERS["byok_legacy_models"](entries)[0]["base_url"] == "http://127.0.0.1:9/v1"
    assert FILTERS["byok_prune_pattern"]("http://127.0.0.1:9") == r"^(?:http://127\.0\.0\.1:9|http://127\.0\.0\.1:9/v1)$"
    assert FILTERS["byok_targets"]([])[0]["factory_dir"] == "~/.factory"


def test_preflight_filter_accepts_entries_or_ids():
    entries = [{"model": "a", "baseUrl": "https://h"}, {"model": "own", "baseUrl": "https://elsewhere"}]
    answer = {"results": [{"status": 200, "json": {"data": [{"id": "a"}]}, "item": {"name": None}}]}
    assert FILTERS["byok_preflight_problems"](answer, wanted=entries, url="https://h") == []
    assert "Model not found: own" in FILTERS["byok_preflight_problems"](answer, wanted=["own"], url="https://h")[0]
