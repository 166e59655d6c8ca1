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

    Node types: strings by default (the nodes are numbered once in a work table and the result joined back);
    with config integer_nodes=true the model's edge list already holds integer node ids (the identity models
    use cdp_node_id), so no string is sorted, numbered or joined: the labels are the result.

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
    {%- set integer_nodes = config.get('integer_nodes', false) -%}
    {%- set keep_edges = config.get('incremental_components', false) -%}
    {%- set incremental = keep_edges and existing_relation is not none and not should_full_refresh()
                          and load_cached_relation(previous_edges) is not none -%}
    {#- Edges kept by a build whose nodes had the other type (strings before integer_nodes, or back) cannot be
        compared with this build's: label everything once. -#}
    {%- if incremental -%}
        {%- set kept = namespace(string_nodes=false) -%}
        {%- for column in adapter.get_columns_in_relation(previous_edges) if column.name | lower == 'node_a' -%}
            {%- set kept.string_nodes = column.is_string() -%}
        {%- endfor -%}
        {%- if kept.string_nodes == integer_nodes -%}
            {{ log("connected_components: " ~ this.identifier ~ " kept edges of another node type; labelling every node", info=True) }}
            {%- set incremental = false -%}
        {%- endif -%}
    {%- endif -%}

    {%- set raw_edges = cc_work_relation(this, 'raw_edges') -%}
    {%- set changed = cc_work_relation(this, 'changed_nodes') -%}
    {%- set sub_nodes = cc_work_relation(this, 'sub_nodes') -%}
    {%- set sub_edges = cc_work_relation(this, 'sub_edges') -%}
    {%- set nodes = cc_work_relation(this, 'nodes') -%}
    {%- set edges = cc_work_relation(this, 'edges') -%}
    {%- set labels = [cc_work_relation(this, 'labels'), cc_work_relation(this, 'frontier'),
                      cc_work_relation(this, 'delta'), cc_work_relation(this, 'labels_rewritten')] -%}
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

    {%- set outcome = cc_label(sub_edges if incremental else raw_edges, nodes, edges, labels, max_rounds, work,
                               integer_nodes) -%}

    {%- if integer_nodes -%}
        {%- set labelled = "
            select l.node, l.label as component_id, " ~ outcome.rounds ~ " as converged_in_rounds
            from " ~ outcome.labels ~ " as l" -%}
    {%- else -%}
        {%- set labelled = "
            select n.node, r.node as component_id, " ~ outcome.rounds ~ " as converged_in_rounds
            from " ~ nodes ~ " as n
            inner join " ~ outcome.labels ~ " as l on l.node = n.node_num
            inner join " ~ nodes ~ " as r on r.node_num = l.label" -%}
    {%- endif %}
    {% call statement('cc_result') -%}
        {{ create_table_as(False, result, labelled ~ ("
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
    maps each node to a dense integer in node order, so the smallest label is the smallest node (with
    integer_nodes the nodes are their own numbers).

    Work tables are integers only: nodes (node, node_num), edges (a, b) deduplicated once as unordered pairs
    then written in both directions, labels (node, label), and per round the frontier (the nodes whose label
    changed in the round before) and the round's delta. A round only propagates from the frontier: after a
    round every node's label is at most each neighbour's previous label, so a neighbour whose label did not
    change cannot lower it again. A round writes only its delta and applies it to the labels in place
    (cdp_apply_label_changes: an UPDATE where the engine has one); convergence is an empty delta. At the
    fixed point every edge joins equal labels, each at most its own node and always a node of the component:
    the component's smallest node. -#}
{% macro cc_label(raw_edges, nodes, edges, labels, max_rounds, work, integer_nodes=false) %}
    {% call statement('cc_nodes') -%}
        {{ create_table_as(False, nodes, "
            with all_nodes as (
                select node_a as node from " ~ raw_edges ~ "
                union
                select node_b as node from " ~ raw_edges ~ "
            )
            select " ~ ("node as node_num" if integer_nodes else "node, row_number() over (order by node) as node_num") ~ "
            from all_nodes
            where node is not null
        ") }}
    {%- endcall %}
    {% do adapter.commit() %}
    {%- if integer_nodes -%}
        {%- set numbered_pairs = "
                select distinct
                    least(e.node_a, e.node_b) as a,
                    greatest(e.node_a, e.node_b) as b
                from " ~ raw_edges ~ " as e
                where e.node_a <> e.node_b" -%}
    {%- else -%}
        {%- set numbered_pairs = "
                select distinct
                    least(na.node_num, nb.node_num) as a,
                    greatest(na.node_num, nb.node_num) as b
                from " ~ raw_edges ~ " as e
                inner join " ~ nodes ~ " as na on na.node = e.node_a
                inner join " ~ nodes ~ " as nb on nb.node = e.node_b
                where na.node_num <> nb.node_num" -%}
    {%- endif %}
    {% call statement('cc_edges') -%}
        {{ create_table_as(False, edges, "
            with pairs as (" ~ numbered_pairs ~ "
            )
            select a, b from pairs
            union all
            select b as a, a as b from pairs
        ") }}
    {%- endcall %}
    {% do adapter.commit() %}

    {#- Before the first round every label was the node itself: the frontier is every node that took a
        smaller neighbour's number. -#}
    {%- set lab = labels[0] -%}
    {%- set frontier = labels[1] -%}
    {%- set delta = labels[2] -%}
    {% call statement('cc_labels_init') -%}
        {{ create_table_as(False, lab, "
            with neighbour_min as (
                select a as node, min(b) as m
                from " ~ edges ~ "
                group by a
            )
            select
                n.node_num as node,
                least(n.node_num, coalesce(nm.m, n.node_num)) as label
            from " ~ nodes ~ " as n
            left join neighbour_min as nm on nm.node = n.node_num
        ") }}
    {%- endcall %}
    {% do adapter.commit() %}
    {% call statement('cc_frontier_init') -%}
        {{ create_table_as(False, frontier, "select node, label from " ~ lab ~ " where label < node") }}
    {%- endcall %}
    {% do adapter.commit() %}

    {%- set state = namespace(done=false, rounds=0) -%}
    {%- for round in range(1, max_rounds + 1) %}
        {%- if not state.done %}
            {% do adapter.drop_relation(delta) %}
            {#- The round's changes only (delta: node, new label), from the frontier:
                improved: nodes a frontier neighbour offers a smaller label;
                hooked:   the representative r (a current label) of improved nodes adopts the smallest of them;
                jumped:   every node whose label is a node that changed follows it (label(v) = label(label(v))),
                          the changed nodes included.
                Each step joins a small table with the labels; only the delta is written. -#}
            {% call statement('cc_round') -%}
                {{ create_table_as(False, delta, "
                    with neighbour_min as (
                        select e.a as node, min(f.label) as m
                        from " ~ frontier ~ " as f
                        inner join " ~ edges ~ " as e on e.b = f.node
                        group by e.a
                    ),
                    improved as (
                        select l.node, l.label as old_label, nm.m as label
                        from neighbour_min as nm
                        inner join " ~ lab ~ " as l on l.node = nm.node
                        where nm.m < l.label
                    ),
                    hooks as (
                        select old_label as node, min(label) as m
                        from improved
                        group by old_label
                    ),
                    hooked as (
                        select h.node, h.m as label
                        from hooks as h
                        inner join " ~ lab ~ " as l on l.node = h.node
                        where h.m < l.label
                    ),
                    stepped as (
                        select node, min(label) as label
                        from (
                            select node, label from improved
                            union all
                            select node, label from hooked
                        ) as changes
                        group by node
                    ),
                    followers as (
                        select l.node, s.label
                        from " ~ lab ~ " as l
                        inner join stepped as s on s.node = l.label
                        where s.label < l.label
                    ),
                    stepped_jumped as (
                        select s.node, least(s.label, coalesce(js.label, jl.label, s.label)) as label
                        from stepped as s
                        inner join " ~ lab ~ " as jl on jl.node = s.label
                        left join stepped as js on js.node = s.label
                    )
                    select node, min(label) as label
                    from (
                        select node, label from stepped_jumped
                        union all
                        select node, label from followers
                    ) as all_changes
                    group by node
                ") }}
            {%- endcall %}
            {% do adapter.commit() %}
            {%- set changed = run_query("select count(*) from " ~ delta) -%}
            {%- set state.rounds = round -%}
            {%- if (changed.columns[0].values()[0] | int) == 0 -%}
                {%- set state.done = true -%}
            {%- else -%}
                {{ cdp_apply_label_changes(lab, delta, labels[3]) }}
                {% do adapter.drop_relation(frontier) %}
                {% do adapter.rename_relation(delta, frontier) %}
                {% do adapter.commit() %}
            {%- endif -%}
        {%- endif %}
    {%- endfor %}

    {%- if not state.done -%}
        {%- for rel in work %}{% do adapter.drop_relation(rel) %}{% endfor -%}
        {{ exceptions.raise_compiler_error(
            "connected_components: " ~ this ~ " did not converge within max_rounds=" ~ max_rounds
            ~ " rounds; raise var connected_components_max_rounds or inspect the graph") }}
    {%- endif -%}
    {{ return({'labels': lab, 'rounds': state.rounds}) }}
{% endmacro %}
