{#- Mesos by the host's roles: a master on control nodes, an agent on compute nodes (both on a
    one-node setup). The top file may also target mesos.master and mesos.agent directly. #}
{%- set roles = grains.get('roles', []) %}
{%- set parts = [] %}
{%- if 'control' in roles %}{% do parts.append('.master') %}{% endif %}
{%- if 'compute' in roles %}{% do parts.append('.agent') %}{% endif %}

include: {{ parts | json }}
