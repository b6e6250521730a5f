{#- Undoes init.sls: the roles of the host, picked by the roles grain as init.sls picks them,
    then the package they share (install/clean.sls, which stops both roles first: on a host
    that never had the other role, its clean finds nothing to do). #}
{%- set roles = grains.get('roles', []) %}
{%- set parts = [] %}
{%- if 'control' in roles %}{% do parts.append('.master.clean') %}{% endif %}
{%- if 'compute' in roles %}{% do parts.append('.agent.clean') %}{% endif %}
{%- do parts.append('.install.clean') %}

include: {{ parts | json }}
