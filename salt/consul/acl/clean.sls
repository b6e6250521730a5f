{#- Nothing to undo on the host: the policies and tokens live in Consul's state, and go with
    the datacenter (consul:clean:remove_data). #}
