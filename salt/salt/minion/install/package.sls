{#- The Salt project's salt-minion package (onedir) at salt_minion:version, from the
    repository of salt_minion:install:package:repo, and salt_minion:python_pkgs beside its
    Salt (the onedir's salt-pip). The package starts the minion when it is installed: the
    configuration and the keys are written before, so that it starts with them. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}
{%- from tplroot ~ "/minion/install/requirements.jinja" import pip_installed with context %}
{%- set package = salt_minion.install.package %}

include:
  - {{ tplroot }}.minion.config
  - {{ tplroot }}.minion.pki
{%- if package.repo %}

salt-minion-install-package-pkgrepo-managed:
  pkgrepo.managed:
  {%- for argument, value in package.repo | dictsort %}
    - {{ argument }}: {{ value | json }}
  {%- endfor %}
    - require_in:
      - pkg: salt-minion-install-package-pkg-installed
{%- endif %}

salt-minion-install-package-pkg-installed:
  pkg.installed:
    - name: {{ package.name }}
    - version: {{ salt_minion.version | json }}
    - require:
      - sls: {{ tplroot }}.minion.config
      - sls: {{ tplroot }}.minion.pki
{{ pip_installed(
    'salt-minion-install-package-cmd-run-salt-pip',
    package.pip,
    salt_minion.python_pkgs,
    [{'pkg': 'salt-minion-install-package-pkg-installed'}]) }}
