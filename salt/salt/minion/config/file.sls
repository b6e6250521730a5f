{#- The minion's configuration, salt_minion:config_file (in minion.d, beside the package's
    /etc/salt/minion): the master, the host's minion id, the grains of salt_minion:grains
    that the host has (under salt-ssh: its roster entry's) and the mine it publishes
    (salt_minion:mine_functions, every salt_minion:mine_interval minutes), merged over
    salt_minion:config. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}
{%- if not salt_minion.master %}
{{-   raise("pillar salt_minion:master is empty: set it to the salt-master's address as the "
            ~ "host reaches it (an IP address or a host name)") }}
{%- endif %}
{%- set host_grains = {} %}
{%- for name in salt_minion.grains if name in grains %}
{%-   do host_grains.update({name: grains[name]}) %}
{%- endfor %}
{%- set config = salt['slsutil.merge'](salt_minion.config, {
      'master': salt_minion.master,
      'id': grains.id,
      'grains': host_grains,
      'mine_functions': salt_minion.mine_functions,
      'mine_interval': salt_minion.mine_interval,
    }, strategy='recurse') %}

salt-minion-config-file-file-serialize:
  file.serialize:
    - name: {{ salt_minion.config_file }}
    - dataset: {{ config | json }}
    - serializer: yaml
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
