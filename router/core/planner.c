/* planner.c - not written yet */
typedef int sy_placeholder_planner;
