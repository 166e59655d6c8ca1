{{ config(enabled=var('bench_chain', false), materialized='connected_components',
          incremental_components=var('bench_chain_incremental', false),
          integer_nodes=var('bench_chain_integer', false)) }}
{#- Benchmark and test harness only: connected components over the edges in table bench_chain_edges,
    written by bench/identity_bench.py (a 10,000-node chain: bounded rounds) and by
    tests/test_incremental.py (splits and merges on the incremental path; integer nodes, the max_rounds guard).
    Var bench_chain_integer: the edges hold integer node ids (the identity passes' mode). -#}
select node_a, node_b from bench_chain_edges
