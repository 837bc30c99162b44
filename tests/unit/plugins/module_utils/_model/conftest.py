# Copyright: failover.keepalived contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the model's tables share: an inventory changed by one row, and its refusal held to the row's words."""

from __future__ import annotations

import pytest


@pytest.fixture
def refused():
    """refused(views, change, expected): apply ``change`` to ``views``; every expected phrase is in the refusal,
    and no host gets a plan. Returns the refusal's text."""
    from ansible_collections.failover.keepalived.plugins.module_utils import _model

    def check(views, change, expected):
        change(views)
        model = _model.build(views)
        text = "\n".join(model["errors"])
        assert text, "the preflight accepted a bad inventory"
        for words in expected:
            assert words in text, "%r not in:\n%s" % (words, text)
        assert model["plans"] == {}
        return text

    return check
