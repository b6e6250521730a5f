{#- Salt of salt_minion:version, with salt_minion:python_pkgs in its Python, by
    salt_minion:install:method. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}
{%- if salt_minion.install.method not in ('pip', 'package') %}
{{-   raise("pillar salt_minion:install:method is '" ~ salt_minion.install.method
            ~ "': set it to pip (a venv, from an index or a mirror's wheels) or package (the "
            ~ "Salt project's)") }}
{%- endif %}

include:
  - .{{ salt_minion.install.method }}
