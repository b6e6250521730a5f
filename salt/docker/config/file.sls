{#- /etc/docker/daemon.json, serialised from one dict: what the formula computes (the bridge
    address `bip`, the bridge address as the containers' nameserver, the search domains, the
    cgroup driver that matches the host), with pillar docker:daemon merged over it. A change
    restarts the engine (service/running.sls); with live-restore the containers keep
    running. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import docker with context %}
{%- set bridge_ip = docker.bridge.address.split('/')[0] %}
{%- set cgroup_driver = docker.cgroup_driver %}
{%- if cgroup_driver == 'auto' %}
{#-   On the unified hierarchy (cgroup v2, the grain cgroup_version of _grains/platform.py)
      systemd owns the cgroups and Docker must go through systemd. On cgroup v1, cgroupfs is
      Docker's default. #}
{%-   if grains.get('cgroup_version') not in (1, 2) %}
{{-     raise("grain cgroup_version is missing on " ~ grains['id'] ~ ": the platform's grains "
              ~ "(_grains/platform.py) did not load; run saltutil.sync_grains, or set "
              ~ "docker:cgroup_driver to systemd or cgroupfs") }}
{%-   endif %}
{%-   set cgroup_driver = 'systemd' if grains['cgroup_version'] == 2 else 'cgroupfs' %}
{%- endif %}
{%- set computed = {
      'bip': docker.bridge.address,
      'dns': [bridge_ip],
      'dns-search': docker.dns_search,
      'exec-opts': ['native.cgroupdriver=' ~ cgroup_driver],
    } %}
{%- set daemon = salt['slsutil.merge'](computed, docker.daemon, strategy='recurse') %}

docker-config-file-file-serialize:
  file.serialize:
    - name: {{ docker.config_file }}
    - dataset: {{ daemon | json }}
    - serializer: json
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
