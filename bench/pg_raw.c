/* pg_raw.c — the baseline for bench/pg.sh: N parameterized queries over one
 * libpq connection, each a blocking PQexecParams with its rows read and values
 * touched, as a C program would do it by hand. Prints elapsed seconds.
 *   pg_raw DSN N SQL */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "usage: pg_raw DSN N SQL\n"); return 2; }
    PGconn *c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); return 1; }
    int n = atoi(argv[2]);
    struct timespec t0, t1;
    size_t touched = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        char p[16];
        snprintf(p, sizeof p, "%d", i);
        const char *vals[1] = {p};
        PGresult *r = PQexecParams(c, argv[3], 1, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); return 1; }
        for (int row = 0; row < PQntuples(r); row++)
            for (int f = 0; f < PQnfields(r); f++) touched += strlen(PQgetvalue(r, row, f));
        PQclear(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    PQfinish(c);
    return touched ? 0 : 1;
}
