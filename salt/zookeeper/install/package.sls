{#- The OS package. Debian's `zookeeper` holds the server, the tools and the account; its
    `zookeeperd` only adds a SysV script that starts the server with the package's example
    configuration (dataDir=/tmp/zookeeper), so it is not installed: the service formula writes
    a systemd unit instead. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}

zookeeper-install-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ zookeeper.install.package.names | json }}
