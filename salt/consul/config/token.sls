{#- The token of the platform's Salt modules (consul_agent's default token file), root's
    only, where the site's tokens are in use (plan.security.tokens_in_use); absent before.
    Apart from file.sls: a new token is Salt's business and restarts no agent. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- from "platform/files.jinja" import secret_file with context %}
{%- set plan = salt['quorum.plan']() %}
{{ secret_file('consul-config-token-secret-file-salt', consul.acl.salt_token_file,
               'secrets:consul:acl:tokens:salt:secret_id'
               if plan.security.tokens_in_use else None) }}
