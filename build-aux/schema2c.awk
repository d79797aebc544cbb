# schema2c.awk - results/schema.sql as a C string literal (core/store_schema.h).
BEGIN{print "/*\n * store_schema.h - results/schema.sql as a C string literal, for store.c.\n *\n * Generated from results/schema.sql by build-aux/schema2c.awk: edit the\n * .sql file, not this one. tests/test-store.c checks that the two agree.\n */\n#ifndef NB_STORE_SCHEMA_H\n#define NB_STORE_SCHEMA_H\n\nstatic const char nb_store_schema_sql[] ="}
{gsub(/\\/,"\\\\"); gsub(/"/,"\\\""); printf "    \"%s\\n\"\n", $0}
END{print "    ;\n\n#endif /* NB_STORE_SCHEMA_H */"}
