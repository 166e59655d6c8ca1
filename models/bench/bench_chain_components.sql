{{ config(enabled=var('bench_chain', false), materialized='connected_components',
          incremental_components=var('bench_chain_incremental', false)) }}
{#- Benchmark and test harness only: connected components over the edges in table bench_chain_edges,
    written by bench/identity_bench.py (a 10,000-node chain: bounded rounds) and by
    tests/test_incremental.py (splits and merges on the incremental path). -#}
select node_a, node_b from bench_chain_edges
