/* yaml_tree.c - not written yet */
typedef int sy_placeholder_yaml_tree;
