// Sum of one float per invocation over the whole workgroup (every invocation gets the total).
// Subgroup sums first, then each invocation adds the few subgroup partials in the same order,
// so the result is identical in every invocation. Needs `shared float partial[gl_WorkGroupSize.x]`
// to be declared by the including shader before this file.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

float workgroup_sum(float v) {
    v = subgroupAdd(v);
    if (subgroupElect()) partial[gl_SubgroupID] = v;
    barrier();
    float total = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++) total += partial[i];
    barrier(); // partial is reused by the next call
    return total;
}
