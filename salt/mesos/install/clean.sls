{#- Removes the package both roles run on, and the repository it came from, once both roles
    are stopped: it includes both roles' cleans, whichever roles the host has, so that no
    mesos-master or mesos-agent is left running on a removed package. With install method
    none the binaries were provided by other means and stay. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}

include:
  - {{ tplroot }}.master.clean
  - {{ tplroot }}.agent.clean
{%- if mesos.install.method == 'package' %}

mesos-clean-pkg-removed:
  pkg.removed:
    - name: {{ mesos.install.package.name }}
    - require:
      - sls: {{ tplroot }}.master.clean
      - sls: {{ tplroot }}.agent.clean
{%-   if mesos.install.package.repo %}

mesos-clean-pkgrepo-absent:
  pkgrepo.absent:
    - name: {{ mesos.install.package.repo.name.format(codename=grains.get('oscodename', '')) | json }}
    - require:
      - pkg: mesos-clean-pkg-removed
{%-   endif %}
{%- endif %}
