"""The privacy notice's version, from its text: the SHA-256 of the Swedish notice must be listed in
``flows/notice_versions.yaml`` under the version its consent buttons record (issue 9).

The notice is the say: of the onboarding flow's ``privacy`` step, hashed as written (the msgid,
not a translation, so a corrected translation is the same notice). Pure: the caller reads the
file once (`load_versions`) and asks `check` or `version_of` about a flow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import yaml

from flows.definition import Flow, FlowError

NOTICE_FLOW, NOTICE_STEP = "onboarding", "privacy"
VERSIONS_FILE = Path(__file__).resolve().parent / "notice_versions.yaml"


def load_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """version → SHA-256 of its text, as the file lists them."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    versions = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(versions, dict) or not all(isinstance(h, str) and len(h) == 64 for h in versions.values()):
        raise FlowError(str(path), None, "versions", "must map each notice version to the SHA-256 (64 hex digits) of its Swedish text")
    return {str(version): digest.lower() for version, digest in versions.items()}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check(flow: Flow, versions: Mapping[str, str], versions_file: str = "flows/notice_versions.yaml") -> list[FlowError]:
    """What is wrong with the onboarding flow's notice and its version; [] for any other flow."""
    step = flow.steps.get(NOTICE_STEP) if flow.id == NOTICE_FLOW else None
    if step is None:
        return [FlowError(flow.file, None, "steps", f"the onboarding flow must keep its {NOTICE_STEP!r} step: it is the privacy notice")] if flow.id == NOTICE_FLOW else []
    digest = text_hash(step.say or "")
    known = [version for version, listed in versions.items() if listed == digest]
    if not known:
        return [FlowError(
            flow.file, step.say_line, f"{NOTICE_STEP}.say",
            f"the privacy notice's text has no version: add it to {versions_file} as a new line under versions, "
            f'e.g. "YYYY-MM": {digest}, and set that version as notice_version in both consent buttons',
        )]
    version = known[-1]
    return [
        FlowError(flow.file, button.line, f"{NOTICE_STEP}.{button.id}.payload", f"notice_version is {button.payload.get('notice_version')!r}, but this notice text is version {version!r} in {versions_file}")
        for button in step.buttons
        if button.event == "consent" and str(button.payload.get("notice_version")) != version
    ]


def version_of(flow: Flow, versions: Mapping[str, str]) -> str:
    """The version of the onboarding flow's notice; FlowError if it has none (see `check`)."""
    problems = check(flow, versions)
    if problems:
        raise problems[0]
    digest = text_hash(flow.steps[NOTICE_STEP].say or "")
    return [version for version, listed in versions.items() if listed == digest][-1]
