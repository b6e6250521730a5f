{#- The order in which a salt-master brings a site up, or into line:
      salt-run state.orchestrate orch.site
    The custom modules, grains and states of this tree first (saltutil.sync_all: every highstate
    needs them, from the top file on), then the mine (every minion's roles and datacenter, which the plan check and the ACL
    tokens of the control nodes read), then the control nodes of the primary datacenter (its
    servers hold the ACLs: they make every agent's token), then those of the other
    datacenters, which join the primary over the WAN, then the compute nodes, whose agents
    join their servers with their tokens, then the edge. A step stops the ones after it when a
    minion of it fails. A minion busy with a scheduled highstate runs the step's after it
    (queue), which the step waits for (timeout). Rendered on the master, with the master's
    own pillar. #}
{%- set step_timeout = 900 %}
{%- set datacenters = salt['pillar.get']('datacenters', {}) | sort %}
{%- set primary = salt['pillar.get']('consul:primary_datacenter') or datacenters | first %}
{%- set control_steps = [primary] + datacenters | reject('equalto', primary) | list %}

orch-site-salt-function-saltutil-sync-all:
  salt.function:
    - name: saltutil.sync_all
    - tgt: '*'

orch-site-salt-function-mine-update:
  salt.function:
    - name: mine.update
    - tgt: '*'
    - require:
      - salt: orch-site-salt-function-saltutil-sync-all

{%- for datacenter in control_steps %}

orch-site-salt-state-highstate-control-{{ datacenter }}:
  salt.state:
    - tgt: 'G@roles:control and G@datacenter:{{ datacenter }}'
    - tgt_type: compound
    - highstate: True
    - queue: True
    - timeout: {{ step_timeout }}
    - require:
      - salt: orch-site-salt-function-mine-update
{%-   if not loop.first %}
      - salt: orch-site-salt-state-highstate-control-{{ primary }}
{%-   endif %}
{%- endfor %}

{%- for role in ('compute', 'edge') %}

orch-site-salt-state-highstate-{{ role }}:
  salt.state:
    - tgt: 'G@roles:{{ role }} and not G@roles:control'
    - tgt_type: compound
    - highstate: True
    - queue: True
    - timeout: {{ step_timeout }}
    # A site may have no host of the role.
    - expect_minions: False
    - require:
{%-   for datacenter in control_steps %}
      - salt: orch-site-salt-state-highstate-control-{{ datacenter }}
{%-   endfor %}
{%- endfor %}
