"""The plugin API's version: what the core offers, what a plugin targets, and what changed between them.

A plugin module says which API it was written for with a module attribute::

    CNNPIPE_PLUGIN_API = "0.2"

A plugin that targets a newer API than this core is refused by name.  One that fails to load and targets
an older API, or shows the marks of one (a hook, spec or argument that was renamed), is reported with what
changed and where ``CHANGELOG.md`` says how to port it.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

API_VERSION = "0.2"
ATTRIBUTE = "CNNPIPE_PLUGIN_API"

# What each version changed, keyed by the version it came from: a word of the old API (as it shows in an
# error) -> what replaced it.  CHANGELOG.md has the porting notes.
CHANGES = {
    "0.1": {
        "cnnpipe_register_trainers": "cnnpipe_register_trainers became cnnpipe_register_backends(register) "
                                     "with BackendSpec",
        "TrainerSpec": "TrainerSpec became BackendSpec (a framework's pieces, see cnnpipe.backend)",
        "'build'": "ModelSpec(build=fn) became ModelSpec(builds={backend: fn})",
        "num_epochs": "Recipe(num_epochs=) became Recipe(epochs=)",
        "positional argument": "optional fields of DatasetSpec, ModelSpec and ReporterSpec are keyword-only",
    },
}


def declared(plugin) -> str:
    """The API version a loaded plugin module declares, ``""`` when it declares none."""
    value = getattr(plugin, ATTRIBUTE, "")
    return value if isinstance(value, str) else repr(value)


def too_new(version: str) -> str | None:
    """Why a plugin targeting ``version`` cannot load here, or ``None`` when it may."""
    try:
        newer = Version(version) > Version(API_VERSION)
    except InvalidVersion:
        return f"declares {ATTRIBUTE} = {version!r}, which is not a version like {API_VERSION!r}"
    if newer:
        return f"targets plugin API {version}, newer than this cnnpipe's {API_VERSION}; upgrade cnnpipe (see CHANGELOG.md)"
    return None


def explain(error: str, version: str = "") -> str:
    """``error`` of a plugin that failed to load, with what changed since the API it targets (declared, or
    recognised by a renamed word in ``error``); ``error`` alone when neither applies."""
    for old, changes in CHANGES.items():
        seen = [change for word, change in changes.items() if word in error]
        if version == old or (not version and seen):
            what = "; ".join(seen) or "; ".join(changes.values())
            return (f"{error} (it targets plugin API {old}, this cnnpipe has {API_VERSION}: {what}; "
                    f"see 'Porting from {old}' in CHANGELOG.md)")
    return error
