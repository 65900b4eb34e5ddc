# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/filter/byok_system.py: the machine-scope filters, as Ansible calls them."""

from __future__ import annotations

import base64
import inspect
import json
import sys
from pathlib import Path

import pytest
import yaml

try:
    from ansible_collections.llmcloud.factory_droid.plugins.filter import byok, byok_system
except ImportError:  # plain pytest from the checkout: `make collection` links it under build/
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "build" / "collections"))
    from ansible_collections.llmcloud.factory_droid.plugins.filter import byok, byok_system

from ansible.errors import AnsibleFilterError

ROOT = Path(byok_system.__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "byok" / "defaults" / "main.yml").read_text())
FILTERS = byok_system.FilterModule().filters()
URL = "https://llmcloud.studio"


def test_every_filter_is_documented_in_its_own_file():
    for name in FILTERS:
        doc = yaml.safe_load((ROOT / "plugins" / "filter" / (name + ".yml")).read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"].strip() and doc["RETURN"]["_value"]["description"]
        documented = set(doc["DOCUMENTATION"]["options"]) - {"_input"}
        parameters = list(inspect.signature(FILTERS[name]).parameters)[1:]
        assert documented == set(parameters), name


def test_the_defaults_give_the_whole_catalog_in_the_system_file():
    entries = byok.byok_custom_models(DEFAULTS["byok_catalog"], DEFAULTS["byok_models"], [], URL, None, "env")
    doc = FILTERS["byok_system_document"](entries, URL, "anthropic/claude-opus-4.6", False, False)
    assert len(doc["customModels"]) == 8
    # the ids of the user files' entries (one id scheme: with byok_scope both the org entry hides the user's twin)
    assert [e["id"] for e in doc["customModels"]] == [e["id"] for e in entries]
    assert doc["sessionDefaultSettings"]["model"] == "custom:llmcloud-anthropic-claude-opus-4.6"
    with pytest.raises(AnsibleFilterError, match="not one of the configured models"):
        FILTERS["byok_system_document"](entries, URL, "nope/model")


def test_plan_takes_the_registered_probe_and_offboard_a_registered_slurp():
    plan = FILTERS["byok_system_plan"]({"stdout": "os=Darwin\ndroid=/opt/homebrew/bin/droid version=0.225.2"})
    assert plan["path"] == "/Library/Application Support/Factory/settings.json"
    text = json.dumps({"customModels": [{"model": "m", "baseUrl": URL + "/", "provider": "anthropic"}]})
    slurped = {"content": base64.b64encode(text.encode()).decode(), "encoding": "base64"}
    assert FILTERS["byok_offboard"](slurped, URL, ["", None], True)["remove_file"] is True
    assert FILTERS["byok_offboard"]({"failed": True, "msg": "file not found"}, URL)["models"] == 0
