"""Load the Jinja2 filter and test plugins once, in the ansible-playbook process, before it forks its workers.

Ansible forks a worker per task per host, and a worker that templates anything with a filter first loads every
filter plugin file of the configured paths (ours in playbooks/filter_plugins, ansible.builtin's core, mathstuff,
urls, encryption with its libcrypt lookup, the YAML dumper): about 0.1 s of CPU, again in every such worker,
because the process they are forked from never templated a filter. Loaded here, every worker inherits them.

Enabled by the orchestrator only (orchestrator/ansible_run.py puts this directory in ANSIBLE_CALLBACK_PLUGINS and
`remediate_preload` in ANSIBLE_CALLBACKS_ENABLED); it changes no result, only where the loading happens. A failure
to load is left to the worker that needs the plugin, which reports it as it always would.
"""

from __future__ import annotations

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, test_loader
from ansible.utils.display import Display

DOCUMENTATION = """
    name: remediate_preload
    type: aggregate
    short_description: load the Jinja2 filter and test plugins once, before the workers fork
    description:
      - Loads every filter and test plugin of the configured paths in the controller process, so the forked task
        workers inherit them instead of each loading them again.
    requirements:
      - enabled in callbacks_enabled (the orchestrator does it for its own runs)
"""

display = Display()


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "remediate_preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook: object) -> None:
        for loader in (filter_loader, test_loader):
            try:
                for _plugin in loader.all():
                    pass
            except Exception as exc:  # noqa: BLE001 - the workers load (and report) it as they would without us
                display.vv(f"remediate_preload: {loader.type} plugins not preloaded: {exc}")
