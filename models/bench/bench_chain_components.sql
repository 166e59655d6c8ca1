{{ config(enabled=var('bench_chain', false), materialized='connected_components') }}
{#- Benchmark only (make bench): connected components over a long chain written by bench/identity_bench.py
    into table bench_chain_edges, to show convergence in a bounded number of rounds. -#}
select node_a, node_b from bench_chain_edges
