{#- Materialization `connected_components`.

    The model's SQL returns an edge list (node_a, node_b: strings; a self-edge makes a lone node). The
    materialization computes connected components inside the warehouse by min-label propagation with
    hooking and pointer jumping, iterating plain set-based SQL until no label changes:

        candidate(v) = min(label(v), min label of v's neighbours)
        hook:  the current representative r of v adopts min(candidate) over all v labelled r
        jump:  label(v) = label(label(v))

    Labels only decrease and are always a node of the component, so the fixed point labels every node
    with the smallest node of its component. Hooking plus jumping converges in a logarithmic number of
    rounds in practice, long chains included; `max_rounds` guards and fails loudly. No recursion, no
    engine-only syntax (CTEs, joins, group by, least), no Python, no row-by-row work.

    Each step is committed before the next: engines plan joins on statistics, and a table created
    inside a still-open transaction has none (DuckDB then picks a nested-loop join).

    Output: node, component_id (the component's smallest node), and dbt logs the number of rounds.

    Incremental (config incremental_components=true, the table exists, no --full-refresh): the edge list
    of the last build is kept beside the table (suffix __cc_previous_edges). Only components that an
    added or removed edge touches can change, so only their nodes, plus new nodes, are labelled again;
    every other row is copied. A component's label is its smallest node either way, so the result
    equals a full build.
-#}
{% macro cc_work_relation(base, suffix) -%}
    {{ return(api.Relation.create(database=base.database, schema=base.schema,
                                  identifier=base.identifier ~ '__cc_' ~ suffix, type='table')) }}
{%- endmacro %}

{% materialization connected_components, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set max_rounds = config.get('max_rounds', var('connected_components_max_rounds', 60)) | int -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set previous_edges = cc_work_relation(this, 'previous_edges') -%}
    {%- set keep_edges = config.get('incremental_components', false) -%}
    {%- set incremental = keep_edges and existing_relation is not none and not should_full_refresh()
                          and load_cached_relation(previous_edges) is not none -%}

    {%- set raw_edges = cc_work_relation(this, 'raw_edges') -%}
    {%- set changed = cc_work_relation(this, 'changed_nodes') -%}
    {%- set sub_nodes = cc_work_relation(this, 'sub_nodes') -%}
    {%- set sub_edges = cc_work_relation(this, 'sub_edges') -%}
    {%- set nodes = cc_work_relation(this, 'nodes') -%}
    {%- set edges = cc_work_relation(this, 'edges') -%}
    {%- set labels = [cc_work_relation(this, 'labels_0'), cc_work_relation(this, 'labels_1')] -%}
    {%- set result = cc_work_relation(this, 'result') -%}
    {%- set work = [raw_edges, changed, sub_nodes, sub_edges, nodes, edges, result] + labels -%}

    {{ run_hooks(pre_hooks) }}
    {%- for rel in work %}{% do adapter.drop_relation(rel) %}{% endfor -%}

    {% call statement('cc_raw_edges') -%}
        {{ create_table_as(False, raw_edges, sql) }}
    {%- endcall %}
    {% do adapter.commit() %}

    {%- if incremental %}
        {#- Nodes on an edge that was added or removed since the last build. -#}
        {% call statement('cc_changed_nodes') -%}
            {{ create_table_as(False, changed, "
                with added as (
                    select node_a, node_b from " ~ raw_edges ~ "
                    except
                    select node_a, node_b from " ~ previous_edges ~ "
                ),
                removed as (
                    select node_a, node_b from " ~ previous_edges ~ "
                    except
                    select node_a, node_b from " ~ raw_edges ~ "
                ),
                touched as (
                    select node_a as node from added
                    union select node_b as node from added
                    union select node_a as node from removed
                    union select node_b as node from removed
                )
                select distinct node from touched where node is not null
            ") }}
        {%- endcall %}
        {% do adapter.commit() %}
        {#- Their components, old members included, form a closed subgraph: an unchanged edge joins two
            nodes of one old component, and every added edge's nodes are in it already. Old members
            that no longer have an edge (a record deleted upstream) are in it too, so they are not copied. -#}
        {% call statement('cc_sub_nodes') -%}
            {{ create_table_as(False, sub_nodes, "
                with affected_components as (
                    select distinct t.component_id
                    from " ~ existing_relation ~ " as t
                    inner join " ~ changed ~ " as c on c.node = t.node
                )
                select t.node
                from " ~ existing_relation ~ " as t
                inner join affected_components as a on a.component_id = t.component_id
                union
                select node from " ~ changed ~ "
            ") }}
        {%- endcall %}
        {% do adapter.commit() %}
        {% call statement('cc_sub_edges') -%}
            {{ create_table_as(False, sub_edges, "
                select e.node_a, e.node_b
                from " ~ raw_edges ~ " as e
                inner join " ~ sub_nodes ~ " as s on s.node = e.node_a
            ") }}
        {%- endcall %}
        {% do adapter.commit() %}
    {%- endif %}

    {%- set outcome = cc_label(sub_edges if incremental else raw_edges, nodes, edges, labels, max_rounds, work) -%}

    {% call statement('cc_result') -%}
        {{ create_table_as(False, result, "
            select n.node, r.node as component_id, " ~ outcome.rounds ~ " as converged_in_rounds
            from " ~ nodes ~ " as n
            inner join " ~ outcome.labels ~ " as l on l.node = n.node_num
            inner join " ~ nodes ~ " as r on r.node_num = l.label
            " ~ ("
            union all
            select t.node, t.component_id, t.converged_in_rounds
            from " ~ existing_relation ~ " as t
            where t.node not in (select node from " ~ sub_nodes ~ ")
            " if incremental else "")) }}
    {%- endcall %}
    {% do adapter.commit() %}
    {{ log("connected_components: " ~ this.identifier ~ (" relabelled the changed components" if incremental
           else " labelled every node") ~ ", converged in " ~ outcome.rounds ~ " rounds", info=True) }}

    {%- if existing_relation is not none %}{% do adapter.drop_relation(existing_relation) %}{% endif -%}
    {% do adapter.rename_relation(result, target_relation) %}
    {% do adapter.drop_relation(previous_edges) %}
    {%- if keep_edges %}{% do adapter.rename_relation(raw_edges, previous_edges) %}{% endif -%}
    {% call statement('main') -%}
        select count(*) as nodes from {{ target_relation }}
    {%- endcall %}

    {%- for rel in work %}{% do adapter.drop_relation(rel) %}{% endfor -%}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {% do persist_docs(target_relation, model) %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- Min-label propagation over an edge list; returns {'labels': relation, 'rounds': n}. The nodes table
    maps each node to a dense integer in node order, so the smallest label is the smallest node.

    Work tables are integers only: nodes (node, node_num), edges (a, b) deduplicated once as unordered pairs
    then written in both directions, and labels (node, label, changed). A round only propagates from the
    frontier, the nodes whose label changed in the round before: after a round every node's label is at most
    each neighbour's previous label (candidate <= neighbour's label, and hooking and jumping only lower it),
    so a neighbour whose label did not change cannot lower it again. The frontier shrinks every round, so
    the edge join is a hash join built on a small table probing the narrow edge table, and convergence is
    read from the `changed` flag instead of comparing two label tables. -#}
{% macro cc_label(raw_edges, nodes, edges, labels, max_rounds, work) %}
    {% call statement('cc_nodes') -%}
        {{ create_table_as(False, nodes, "
            with all_nodes as (
                select node_a as node from " ~ raw_edges ~ "
                union
                select node_b as node from " ~ raw_edges ~ "
            )
            select node, row_number() over (order by node) as node_num
            from all_nodes
            where node is not null
        ") }}
    {%- endcall %}
    {% do adapter.commit() %}
    {% call statement('cc_edges') -%}
        {{ create_table_as(False, edges, "
            with pairs as (
                select distinct
                    least(na.node_num, nb.node_num) as a,
                    greatest(na.node_num, nb.node_num) as b
                from " ~ raw_edges ~ " as e
                inner join " ~ nodes ~ " as na on na.node = e.node_a
                inner join " ~ nodes ~ " as nb on nb.node = e.node_b
                where na.node_num <> nb.node_num
            )
            select a, b from pairs
            union all
            select b as a, a as b from pairs
        ") }}
    {%- endcall %}
    {% do adapter.commit() %}

    {#- Before the first round every label was the node itself: the frontier is every node that took a
        smaller neighbour's number. -#}
    {% call statement('cc_labels_init') -%}
        {{ create_table_as(False, labels[0], "
            with neighbour_min as (
                select a as node, min(b) as m
                from " ~ edges ~ "
                group by a
            )
            select
                n.node_num as node,
                least(n.node_num, coalesce(nm.m, n.node_num)) as label,
                coalesce(nm.m, n.node_num) < n.node_num as changed
            from " ~ nodes ~ " as n
            left join neighbour_min as nm on nm.node = n.node_num
        ") }}
    {%- endcall %}
    {% do adapter.commit() %}

    {%- set state = namespace(done=false, rounds=0, current=0) -%}
    {%- for round in range(1, max_rounds + 1) %}
        {%- if not state.done %}
            {%- set cur = labels[state.current] -%}
            {%- set nxt = labels[1 - state.current] -%}
            {% do adapter.drop_relation(nxt) %}
            {% call statement('cc_round') -%}
                {{ create_table_as(False, nxt, "
                    with frontier as (
                        select node, label from " ~ cur ~ " where changed
                    ),
                    neighbour_min as (
                        select e.a as node, min(f.label) as m
                        from frontier as f
                        inner join " ~ edges ~ " as e on e.b = f.node
                        group by e.a
                    ),
                    candidate as (
                        select l.node, l.label as old_label, least(l.label, coalesce(nm.m, l.label)) as m
                        from " ~ cur ~ " as l
                        left join neighbour_min as nm on nm.node = l.node
                    ),
                    hooked as (
                        select old_label as node, min(m) as m
                        from candidate
                        where m < old_label
                        group by old_label
                    ),
                    stepped as (
                        select c.node, c.old_label, least(c.m, coalesce(h.m, c.m)) as label
                        from candidate as c
                        left join hooked as h on h.node = c.node
                    ),
                    jumped as (
                        select s.node, s.old_label, least(s.label, coalesce(j.label, s.label)) as label
                        from stepped as s
                        left join stepped as j on j.node = s.label
                    )
                    select node, label, label < old_label as changed
                    from jumped
                ") }}
            {%- endcall %}
            {% do adapter.commit() %}
            {%- set changed = run_query("select count(*) from " ~ nxt ~ " where changed") -%}
            {%- set state.rounds = round -%}
            {%- set state.current = 1 - state.current -%}
            {%- if (changed.columns[0].values()[0] | int) == 0 -%}
                {%- set state.done = true -%}
            {%- endif -%}
        {%- endif %}
    {%- endfor %}

    {%- if not state.done -%}
        {%- for rel in work %}{% do adapter.drop_relation(rel) %}{% endfor -%}
        {{ exceptions.raise_compiler_error(
            "connected_components: " ~ this ~ " did not converge within max_rounds=" ~ max_rounds
            ~ " rounds; raise var connected_components_max_rounds or inspect the graph") }}
    {%- endif -%}
    {{ return({'labels': labels[state.current], 'rounds': state.rounds}) }}
{% endmacro %}
