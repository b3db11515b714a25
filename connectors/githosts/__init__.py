"""The built-in ``github`` and ``gitlab`` sources (this module is in DEFAULT_PLUGINS).

``paging`` reads a host's listings (Link pages, ETags, rate limits), ``rows`` builds canonical
rows, ``base`` holds the streams and cursors both hosts share.
"""

from __future__ import annotations

from mlreport import hookimpl
from mlreport.connectors.githosts.github import GitHubSource
from mlreport.connectors.githosts.gitlab import GitLabSource
from mlreport.connectors.githosts.options import GitHubOptions, GitLabOptions

__all__ = ["GitHubOptions", "GitHubSource", "GitLabOptions", "GitLabSource", "register_sources"]


@hookimpl
def register_sources(register) -> None:
    register("github", GitHubSource)
    register("gitlab", GitLabSource)
