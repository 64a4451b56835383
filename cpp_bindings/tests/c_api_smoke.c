/* The C API from a C99 program: compiles as C, links, runs an ensemble, reports errors by code. */
#include <stdio.h>
#include <string.h>

#include "act_edge/act_edge.h"

int main(void) {
    float chunk[4 * 2], action[2];
    int i, step;
    act_edge_ensemble* e = act_edge_ensemble_create(4, 2, 0.01);
    if (!e) { fprintf(stderr, "create failed: %s\n", act_edge_last_error()); return 1; }
    for (step = 0; step < 10; ++step) {
        for (i = 0; i < 8; ++i) chunk[i] = (float)(step + i);
        if (act_edge_ensemble_update(e, chunk, 8, action, 2) != ACT_EDGE_OK) return 2;
    }
    act_edge_ensemble_destroy(e);
    if (act_edge_ensemble_create(0, 2, 0.01) != NULL || strlen(act_edge_last_error()) == 0) return 3;
    if (!act_edge_has_tensorrt() && act_edge_policy_create("x.actedge", NULL) != NULL) return 4;
    printf("ok %f %f\n", action[0], action[1]);
    return 0;
}
