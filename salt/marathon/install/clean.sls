{#- Removes what install/ put in place, after the flag file: the package and the repository
    the formula added, or the unpacked releases and the `current` link. The Java runtime
    stays: ZooKeeper runs on it too. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}

include:
  - {{ tplroot }}.config.clean
{%- if marathon.install.method == 'package' %}

marathon-clean-pkg-removed:
  pkg.removed:
    - name: {{ marathon.install.package.name }}
    - require:
      - sls: {{ tplroot }}.config.clean
{%-   if marathon.install.package.repo %}

marathon-clean-pkgrepo-absent:
  pkgrepo.absent:
    - name: {{ marathon.install.package.repo.name | json }}
    - require:
      - pkg: marathon-clean-pkg-removed
{%-   endif %}
{%- elif marathon.install.method == 'archive' %}

marathon-clean-file-absent-archive-directory:
  file.absent:
    - name: {{ marathon.install.archive.directory }}
    - require:
      - sls: {{ tplroot }}.config.clean
{%- endif %}
