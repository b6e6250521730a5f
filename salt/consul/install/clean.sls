{#- Removes what install/ put in place: the binary (link and unpacked release, or the
    package) and the consul account. Runs after the service and the configuration are gone. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}

include:
  - {{ tplroot }}.config.clean

{%- if consul.install.method == 'archive' %}

consul-install-clean-file-absent-link:
  file.absent:
    - name: {{ consul.install.archive.bin }}
    - require:
      - sls: {{ tplroot }}.config.clean

consul-install-clean-file-absent-release:
  file.absent:
    - name: {{ consul.install.archive.directory }}/{{ consul.version }}
    - require:
      - file: consul-install-clean-file-absent-link
{%- elif consul.install.method == 'package' %}

consul-install-clean-pkg-removed:
  pkg.removed:
    - name: {{ consul.install.package.name }}
    - require:
      - sls: {{ tplroot }}.config.clean
{%- endif %}

consul-install-clean-user-absent:
  user.absent:
    - name: {{ consul.user }}
    - require:
      - sls: {{ tplroot }}.config.clean

consul-install-clean-group-absent:
  group.absent:
    - name: {{ consul.group }}
    - require:
      - user: consul-install-clean-user-absent
