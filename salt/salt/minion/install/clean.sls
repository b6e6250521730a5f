{#- Removes Salt once the minion is stopped: method pip's venv, or method package's package
    (purged). The package's repository and its other packages (salt-common) stay: a
    salt-master on the same host may come from them. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}

include:
  - {{ tplroot }}.minion.service.clean
{%- if salt_minion.install.method == 'pip' %}

salt-minion-install-clean-file-absent:
  file.absent:
    - name: {{ salt_minion.install.pip.prefix }}
    - require:
      - sls: {{ tplroot }}.minion.service.clean
{%- else %}

salt-minion-install-clean-pkg-purged:
  pkg.purged:
    - name: {{ salt_minion.install.package.name }}
    - require:
      - sls: {{ tplroot }}.minion.service.clean
{%- endif %}
