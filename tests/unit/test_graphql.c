/* The GraphQL module (railway/graphql.h): parse errors, the tree, each validation rule on a
 * small schema, variable coercion, argument values, and every embedded document against the
 * committed snapshot of Railway's schema (and the full introspection in ../shared when it is
 * there). */
#include "railway/graphql.h"
#include "railway/railway.h"
#include "support/harness.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A small schema in introspection form, written with ' for " (see test_schema_load()). */
#define T(n)           "{'kind':'SCALAR','name':'" n "'}"
#define NN(t)          "{'kind':'NON_NULL','ofType':" t "}"
#define LIST(t)        "{'kind':'LIST','ofType':" t "}"
#define ARG(n, t)      "{'name':'" n "','type':" t "}"
#define ARGD(n, t, d)  "{'name':'" n "','type':" t ",'defaultValue':'" d "'}"
#define FIELD(n, t, a) "{'name':'" n "','type':" t ",'args':[" a "]}"

static const char TEST_SCHEMA[] =
    "{'queryType':{'name':'Query'},'mutationType':{'name':'Mutation'},'types':["
    "{'kind':'OBJECT','name':'Query','fields':[" FIELD(
        "user", T("User"),
        ARG("id", NN(T("ID")))) "," FIELD("users", NN(LIST(NN(T("User")))),
                                          ARG("filter", T("UserFilter")) "," ARGD(
                                              "first", T("Int"), "10")) "," FIELD("search",
                                                                                  NN(LIST(NN(
                                                                                      T("SearchResu"
                                                                                        "lt")))),
                                                                                  ARG("term", NN(
                                                                                                  T(
                                                                                                      "String")))) "," FIELD("node", T("Node"), ARG("id", NN(T("ID")))) "," FIELD("version", T("String"), "") ",{'name':'legacy','type':" T("String") ",'args':[],'isDeprecated':true,"
                                                                                                                                                                                                                                                      "'deprecationReason':'Use version'}]},"
                                                                                                                                                                                                                                                      "{'kind':'OBJECT','name':'Mutation','fields':[" FIELD("rename",
                                                                                                                                                                                                                                                                                                            NN(T(
                                                                                                                                                                                                                                                                                                                "User")),
                                                                                                                                                                                                                                                                                                            ARG("input", NN(
                                                                                                                                                                                                                                                                                                                             T(
                                                                                                                                                                                                                                                                                                                                 "RenameInput")))) "," FIELD("setRole",
                                                                                                                                                                                                                                                                                                                                                             NN(T(
                                                                                                                                                                                                                                                                                                                                                                 "Boolean")),
                                                                                                                                                                                                                                                                                                                                                             ARG("id",
                                                                                                                                                                                                                                                                                                                                                                 NN(T("ID"))) "," ARG("role",
                                                                                                                                                                                                                                                                                                                                                                                      NN(
                                                                                                                                                                                                                                                                                                                                                                                          T(
                                                                                                                                                                                                                                                                                                                                                                                              "Role")))) "]},"
                                                                                                                                                                                                                                                                                                                                                                                                         "{'kind':'OBJECT','name':'User','interfaces':[{'name':'Node'}],'fields':[" FIELD(
                                                                                                                                                                                                                                                                                                                                                                                                             "id",
                                                                                                                                                                                                                                                                                                                                                                                                             NN(T(
                                                                                                                                                                                                                                                                                                                                                                                                                 "ID")),
                                                                                                                                                                                                                                                                                                                                                                                                             "") "," FIELD("name",
                                                                                                                                                                                                                                                                                                                                                                                                                           T("String"), "") "," FIELD("role", NN(T("Role")), "") "," FIELD("friends", NN(LIST(NN(T("User")))),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           ARG("first", T(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "Int"))) "]},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                     "{'kind':'OBJECT','name':'Group','fields':[" FIELD("id", NN(T("ID")), "") "," FIELD(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                         "title",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                         NN(T("String")), "") "]},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                              "{'kind':'INTERFACE','name':'Node','fields':[" FIELD("id",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                   NN(T("ID")), "") "],'possibleTypes':[{'name':'User'}]},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    "{'kind':'UNION','name':'SearchResult','possibleTypes':[{'name':'User'},{'name':'Group'}]},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    "{'kind':'ENUM','name':'Role','enumValues':[{'name':'MEMBER'},{'name':'ADMIN'}]},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    "{'kind':'INPUT_OBJECT','name':'UserFilter','inputFields':[" ARG(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "role", T("Role")) "," ARG("names",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                   LIST(NN(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       T(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "String")))) "," ARG("nested", T("UserFilter")) "," ARGD("limit",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    T("Int"), "5") "]},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                   "{'kind':'INPUT_OBJECT','name':'RenameInput','inputFields':[" ARG("id", NN(T("ID"))) "," ARG("name", NN(T("String"))) "," ARGD(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "keep", T("Boolean"), "false") "]},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "{'kind':'SCALAR','name':'ID'},{'kind':'SCALAR','name':'String'},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "{'kind':'SCALAR','name':'Int'},{'kind':'SCALAR','name':'Float'},"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "{'kind':'SCALAR','name':'Boolean'},{'kind':'SCALAR','name':'JSON'}]}";

static struct graphql_schema schema;

static void test_schema_load(void)
{
    char *text = xstrdup(TEST_SCHEMA);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON *json = cJSON_Parse(text);
    char err[256] = "";
    cr_assert_not_null(json);
    cr_assert_eq(graphql_schema_load(&schema, json, err, sizeof(err)), RH_OK, "%s", err);
    cJSON_Delete(json);
    free(text);
}

static void test_schema_free(void)
{
    graphql_schema_cleanup(&schema);
}

/* The messages of validating text, joined by newlines (free()); *count receives how many. */
static char *validate(const struct graphql_schema *s, const char *text, int *count, cJSON *warnings)
{
    struct graphql_document doc;
    cJSON *errors = cJSON_CreateArray();
    cr_assert_eq(graphql_document_parse(&doc, text, strlen(text)), RH_OK, "%s: %s", text,
                 doc.error);
    *count = graphql_document_validate(s, &doc, errors, warnings);
    struct buf b;
    buf_init(&b, 0);
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        buf_printf(&b, "%s\n", cJSON_GetObjectItem(e, "message")->valuestring);
    }
    graphql_document_cleanup(&doc);
    cJSON_Delete(errors);
    return b.data ? buf_steal(&b) : xstrdup("");
}

Test(graphql, parse_errors_are_graphql_js_syntax_errors)
{
    static const struct {
        const char *text, *error;
        int line, column;
    } cases[] = {
        {"", "Syntax Error: Unexpected <EOF>.", 1, 1},
        {"query {\n  a", "Syntax Error: Expected Name, found <EOF>.", 2, 4},
        {"{ a(x: ) }", "Syntax Error: Unexpected \")\".", 1, 8},
        {"{ a(x: \"open) }", "Syntax Error: Unterminated string.", 1, 16},
        {"{ a(x: 01) }", "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 9},
        {"{ a(x: 1.) }", "Syntax Error: Invalid number, expected digit but got: a non-digit.", 1,
         10},
        {"query Q($x: Int = $y) { a }",
         "Syntax Error: Unexpected variable \"$y\" in constant value.", 1, 19},
        {"fragment on on T { a }", "Syntax Error: Unexpected Name \"on\".", 1, 10},
        {"fragment F T { a }", "Syntax Error: Expected \"on\", found Name \"T\".", 1, 12},
        {"{ a } ?", "Syntax Error: Unexpected character: \"?\".", 1, 7},
        {"{ a(x: \"\\q\") }", "Syntax Error: Invalid character escape sequence: \"\\q\".", 1, 9},
        {"{ a(x: \"\\uD800\") }", "Syntax Error: Invalid Unicode escape sequence.", 1, 9},
        {"type T { a: Int }", "Syntax Error: Unexpected Name \"type\".", 1, 1},
        {"{ a() }", "Syntax Error: Expected Name, found \")\".", 1, 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct graphql_document doc;
        cr_assert_eq(graphql_document_parse(&doc, cases[i].text, strlen(cases[i].text)), RH_INVALID,
                     "%s", cases[i].text);
        cr_assert_str_eq(doc.error, cases[i].error, "%s", cases[i].text);
        cr_assert_eq(doc.error_line, cases[i].line, "%s: line %d", cases[i].text, doc.error_line);
        cr_assert_eq(doc.error_column, cases[i].column, "%s: column %d", cases[i].text,
                     doc.error_column);
        graphql_document_cleanup(&doc);
        graphql_document_cleanup(&doc); /* idempotent */
    }
}

Test(graphql, parse_limits_nesting_tokens_and_nul_bytes)
{
    struct graphql_document doc;
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 70; i++)
        buf_puts(&b, "{ a ");
    cr_assert_eq(graphql_document_parse(&doc, b.data, b.len), RH_INVALID);
    cr_assert_str_eq(doc.error, "Syntax Error: Document nesting exceeds 64 levels.");
    graphql_document_cleanup(&doc);
    buf_reset(&b);
    buf_puts(&b, "{");
    for (int i = 0; i < 20001; i++)
        buf_puts(&b, " a");
    buf_puts(&b, "}");
    cr_assert_eq(graphql_document_parse(&doc, b.data, b.len), RH_INVALID);
    cr_assert_str_eq(doc.error,
                     "Syntax Error: Document contains more than 20000 tokens. Parsing aborted.");
    graphql_document_cleanup(&doc);
    cr_assert_eq(graphql_document_parse(&doc, "{ a }\0", 6), RH_INVALID);
    cr_assert_str_eq(doc.error, "Syntax Error: Invalid character: U+0000.");
    graphql_document_cleanup(&doc);
    buf_free(&b);
}

Test(graphql, parse_builds_the_tree)
{
    static const char text[] =
        "# a comment\n"
        "query Q($id: ID! = \"x\", $l: [[Int!]]) @skip(if: false) {\n"
        "  who: user(id: $id) { ...F ... on User @include(if: true) { name } }\n"
        "  users(filter: {role: ADMIN, names: [\"a\\u00e9\\uD83D\\uDE00\", \"\"\"\n"
        "      block\n"
        "        indented\n"
        "    \"\"\"], nested: null}, first: -12) { id }\n"
        "}\n"
        "fragment F on User { id }\n";
    struct graphql_document doc;
    char type[64];
    cr_assert_eq(graphql_document_parse(&doc, text, strlen(text)), RH_OK, "%s", doc.error);
    cr_assert_eq(doc.operation_count, 1);
    cr_assert_eq(doc.fragment_count, 1);
    const struct graphql_operation *op = &doc.operations[0];
    cr_assert_str_eq(op->name, "Q");
    cr_assert_eq(op->kind, GRAPHQL_QUERY);
    cr_assert_eq(op->line, 2);
    cr_assert_eq(op->variable_count, 2);
    graphql_type_print(op->variables[1].type, type, sizeof(type));
    cr_assert_str_eq(type, "[[Int!]]");
    cr_assert_str_eq(op->variables[0].default_value->text, "x");
    cr_assert_str_eq(op->directives[0].name, "skip");
    const struct graphql_selection *who = &op->selections->items[0];
    cr_assert_str_eq(who->alias, "who");
    cr_assert_str_eq(who->name, "user");
    cr_assert_eq(who->args[0].value->kind, GRAPHQL_VARIABLE);
    cr_assert_str_eq(who->args[0].value->text, "id");
    cr_assert_eq(who->selections->items[0].kind, GRAPHQL_SPREAD);
    cr_assert_eq(who->selections->items[1].kind, GRAPHQL_INLINE_FRAGMENT);
    cr_assert_str_eq(who->selections->items[1].type_cond, "User");
    const struct graphql_value *filter = op->selections->items[1].args[0].value;
    cr_assert_eq(filter->kind, GRAPHQL_OBJECT);
    cr_assert_eq(filter->items[0].value->kind, GRAPHQL_ENUM);
    const struct graphql_value *names = filter->items[1].value;
    cr_assert_str_eq(names->items[0].value->text, "a\xc3\xa9\xf0\x9f\x98\x80");
    cr_assert_str_eq(names->items[1].value->text, "block\n  indented");
    cr_assert_eq(filter->items[2].value->kind, GRAPHQL_NULL);
    cr_assert_str_eq(op->selections->items[1].args[1].value->text, "-12");
    cr_assert_not_null(graphql_fragment_find(&doc, "F"));
    cr_assert_null(graphql_fragment_find(&doc, "G"));
    graphql_document_cleanup(&doc);
}

Test(graphql, operation_pick_follows_the_request)
{
    struct graphql_document doc;
    cJSON *errors = cJSON_CreateArray();
    const char *text = "query A { a } query B { b }";
    cr_assert_eq(graphql_document_parse(&doc, text, strlen(text)), RH_OK);
    cr_assert_str_eq(graphql_operation_pick(&doc, "B", errors)->name, "B");
    cr_assert_null(graphql_operation_pick(&doc, NULL, errors));
    cr_assert_null(graphql_operation_pick(&doc, "C", errors));
    cr_assert_str_eq(cJSON_GetArrayItem(errors, 0)->child->valuestring,
                     "Must provide operation name if query contains multiple operations.");
    cr_assert_str_eq(cJSON_GetArrayItem(errors, 1)->child->valuestring,
                     "Unknown operation named \"C\".");
    graphql_document_cleanup(&doc);
    cJSON_Delete(errors);
}

TestSuite(graphql_rules, .init = test_schema_load, .fini = test_schema_free);

Test(graphql_rules, each_rule_rejects_with_graphql_js_words)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"{ nope }", "Cannot query field \"nope\" on type \"Query\"."},
        {"{ user(id: 1, x: 2) { id } }", "Unknown argument \"x\" on field \"Query.user\"."},
        {"{ user(id: 1) { name(x: 1) } }", "Unknown argument \"x\" on field \"User.name\"."},
        {"{ user { id } }",
         "Field \"user\" argument \"id\" of type \"ID!\" is required, but it was not provided."},
        {"{ user(id: 1, id: 2) { id } }", "There can be only one argument named \"id\"."},
        {"{ user(id: 1) }", "Field \"user\" of type \"User\" must have a selection of subfields. "
                            "Did you mean \"user { ... }\"?"},
        {"{ version { x } }",
         "Field \"version\" must not have a selection since type \"String\" has no subfields."},
        {"query Q($id: Int!) { user(id: $id) { id } }",
         "Variable \"$id\" of type \"Int!\" used in position expecting type \"ID!\"."},
        {"query Q($id: ID) { user(id: $id) { id } }",
         "Variable \"$id\" of type \"ID\" used in position expecting type \"ID!\"."},
        {"query Q($n: [Int]) { users(first: $n) { id } }",
         "Variable \"$n\" of type \"[Int]\" used in position expecting type \"Int\"."},
        {"query Q { user(id: $id) { id } }", "Variable \"$id\" is not defined by operation \"Q\"."},
        {"{ user(id: $id) { id } }", "Variable \"$id\" is not defined."},
        {"query Q($id: ID!) { version }", "Variable \"$id\" is never used in operation \"Q\"."},
        {"query Q($u: User) { version }", "Variable \"$u\" cannot be non-input type \"User\"."},
        {"query Q($u: Nope) { version }", "Unknown type \"Nope\"."},
        {"query Q($a: ID!, $a: ID!) { user(id: $a) { id } }",
         "There can be only one variable named \"$a\"."},
        {"query Q($a: Int! = null) { users(first: $a) { id } }",
         "Expected value of type \"Int!\", found null."},
        {"{ users(filter: {role: BOSS}) { id } }",
         "Value \"BOSS\" does not exist in \"Role\" enum."},
        {"{ users(filter: {role: \"ADMIN\"}) { id } }",
         "Enum \"Role\" cannot represent non-enum value: \"ADMIN\"."},
        {"{ users(filter: {age: 3}) { id } }",
         "Field \"age\" is not defined by type \"UserFilter\"."},
        {"{ users(filter: {role: ADMIN, role: MEMBER}) { id } }",
         "There can be only one input field named \"role\"."},
        {"mutation { rename(input: {id: 1}) { id } }",
         "Field \"RenameInput.name\" of required type \"String!\" was not provided."},
        {"mutation { rename(input: {id: 1, name: null}) { id } }",
         "Expected value of type \"String!\", found null."},
        {"{ users(first: \"ten\") { id } }", "Int cannot represent non-integer value: \"ten\""},
        {"{ users(first: 3000000000) { id } }",
         "Int cannot represent non 32-bit signed integer value: 3000000000"},
        {"{ users(filter: {names: [1]}) { id } }", "String cannot represent a non string value: 1"},
        {"{ users(filter: 3) { id } }", "Expected value of type \"UserFilter\", found 3."},
        {"mutation { setRole(id: 1.5, role: ADMIN) }",
         "ID cannot represent a non-string and non-integer value: 1.5"},
        {"{ search(term: \"x\") { id } }", "Cannot query field \"id\" on type \"SearchResult\"."},
        {"{ search(term: \"x\") { ... on Role { x } } }",
         "Fragment cannot condition on non composite type \"Role\"."},
        {"{ user(id: 1) { ... on Group { title } } }",
         "Fragment cannot be spread here as objects of type \"User\" can never be of type "
         "\"Group\"."},
        {"{ node(id: 1) { ...G } } fragment G on Group { id }",
         "Fragment \"G\" cannot be spread here as objects of type \"Node\" can never be of type "
         "\"Group\"."},
        {"{ user(id: 1) { ... on Nope { id } } }", "Unknown type \"Nope\"."},
        {"{ user(id: 1) { ...F } }", "Unknown fragment \"F\"."},
        {"{ version } fragment F on User { id }", "Fragment \"F\" is never used."},
        {"{ user(id: 1) { ...F } } fragment F on User { ...G } fragment G on User { ...F }",
         "Cannot spread fragment \"F\" within itself via \"G\"."},
        {"{ version } fragment F on User { id } fragment F on User { id }",
         "There can be only one fragment named \"F\"."},
        {"{ version @skip }", "Directive \"@skip\" argument \"if\" of type \"Boolean!\" is "
                              "required, but it was not provided."},
        {"{ version @skip(if: \"yes\") }", "Boolean cannot represent a non boolean value: \"yes\""},
        {"{ version @nope }", "Unknown directive \"@nope\"."},
        {"query @skip(if: true) { version }", "Directive \"@skip\" may not be used on QUERY."},
        {"{ version @skip(if: true) @skip(if: false) }",
         "The directive \"@skip\" can only be used once at this location."},
        {"{ a: version a: legacy }",
         "Fields \"a\" conflict because \"version\" and \"legacy\" are different fields. Use "
         "different aliases on the fields to fetch both if this was intentional."},
        {"query A { version } query A { version }", "There can be only one operation named \"A\"."},
        {"{ version } query B { version }",
         "This anonymous operation must be the only defined operation."},
        {"subscription { version }", "Schema is not configured to execute subscription operation."},
        {"{ __schema { types { name } } __typename(x: 1) }",
         "Unknown argument \"x\" on field \"Query.__typename\"."},
        {"{ user(id: 1) { __schema { x } } }", "Cannot query field \"__schema\" on type \"User\"."},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = 0;
        char *got = validate(&schema, cases[i].text, &n, NULL);
        cr_assert_gt(n, 0, "%s: no error", cases[i].text);
        cr_assert_not_null(strstr(got, cases[i].error), "%s:\nwant %s\ngot  %s", cases[i].text,
                           cases[i].error, got);
        free(got);
    }
}

Test(graphql_rules, valid_documents_pass)
{
    static const char *const docs[] = {
        "query Q($id: ID!, $f: UserFilter, $n: Int = 3) { who: user(id: $id) { id name role "
        "friends(first: $n) { id } } users(filter: $f) { ...U } } fragment U on User { id "
        "__typename }",
        "query Q($n: Int) { users(first: $n) { id } }",
        "mutation M($r: Role = ADMIN, $id: ID!) { setRole(id: $id, role: $r) }",
        "{ search(term: \"x\") { __typename ... on User { id } ... on Group { title } } }",
        "{ node(id: 1) { id ... on User { name } ...N } } fragment N on Node { id }",
        "{ users(filter: {names: \"one\", nested: {role: ADMIN, limit: 2}}) { id } }",
        "query Q($s: Boolean!) { version @include(if: $s) legacy @skip(if: false) }",
        "mutation { rename(input: {id: 7, name: \"n\"}) { id } }",
        "query Q($x: [String!]) { users(filter: {names: $x}) { id } }",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        int n = 0;
        char *got = validate(&schema, docs[i], &n, NULL);
        cr_assert_eq(n, 0, "%s:\n%s", docs[i], got);
        free(got);
    }
}

Test(graphql_rules, deprecated_fields_are_warnings_and_errors_are_capped)
{
    cJSON *warnings = cJSON_CreateArray();
    int n = 0;
    free(validate(&schema, "{ legacy }", &n, warnings));
    cr_assert_eq(n, 0);
    cr_assert_str_eq(cJSON_GetArrayItem(warnings, 0)->child->valuestring,
                     "The field Query.legacy is deprecated. Use version");
    cJSON_Delete(warnings);

    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{");
    for (int i = 0; i < 150; i++)
        buf_printf(&b, " f%d", i);
    buf_puts(&b, " }");
    char *got = validate(&schema, b.data, &n, NULL);
    cr_assert_eq(n, 101);
    cr_assert_not_null(strstr(got, "Too many validation errors, error limit reached. Validation "
                                   "aborted.\n"));
    free(got);
    buf_free(&b);
}

/* Coerces vars (JSON) for the first operation of text: the messages (free()) and *out. */
static char *coerce(const char *text, const char *vars, cJSON **out)
{
    struct graphql_document doc;
    cJSON *errors = cJSON_CreateArray(), *values = cJSON_Parse(vars);
    cr_assert_not_null(values, "%s", vars);
    cr_assert_eq(graphql_document_parse(&doc, text, strlen(text)), RH_OK);
    graphql_variables_coerce(&schema, &doc.operations[0], values, out, errors);
    struct buf b;
    buf_init(&b, 0);
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        buf_printf(&b, "%s\n", cJSON_GetObjectItem(e, "message")->valuestring);
    }
    graphql_document_cleanup(&doc);
    cJSON_Delete(errors);
    cJSON_Delete(values);
    return b.data ? buf_steal(&b) : xstrdup("");
}

#define VARS_DOC                                                                                   \
    "query Q($id: ID!, $f: UserFilter, $n: Int = 3, $roles: [Role!], $ok: Boolean, $x: Float, "    \
    "$j: JSON, $r: RenameInput) { version }"

Test(graphql_rules, variables_are_coerced)
{
    cJSON *out = NULL;
    char *errors = coerce(VARS_DOC,
                          "{\"id\":7,\"f\":{\"role\":\"ADMIN\",\"names\":\"x\"},\"roles\":"
                          "[\"MEMBER\"],\"x\":2,\"j\":{\"any\":[1]},\"r\":{\"id\":\"1\","
                          "\"name\":\"n\"}}",
                          &out);
    cr_assert_str_eq(errors, "");
    char *got = cJSON_PrintUnformatted(out);
    cr_assert_str_eq(got, "{\"id\":\"7\",\"f\":{\"limit\":5,\"names\":[\"x\"],\"role\":\"ADMIN\"},"
                          "\"n\":3,\"roles\":[\"MEMBER\"],\"x\":2,\"j\":{\"any\":[1]},"
                          "\"r\":{\"id\":\"1\",\"keep\":false,\"name\":\"n\"}}");
    cJSON_free(got);
    cJSON_Delete(out);
    free(errors);
}

Test(graphql_rules, bad_variables_get_graphql_js_words)
{
    static const struct {
        const char *vars, *error;
    } cases[] = {
        {"{}", "Variable \"$id\" of required type \"ID!\" was not provided."},
        {"{\"id\":null}", "Variable \"$id\" of non-null type \"ID!\" must not be null."},
        {"{\"id\":true}",
         "Variable \"$id\" got invalid value true; ID cannot represent value: true"},
        {"{\"id\":\"1\",\"f\":{\"role\":\"BOSS\"}}",
         "Variable \"$f\" got invalid value \"BOSS\" at \"f.role\"; Value \"BOSS\" does not exist "
         "in \"Role\" enum."},
        {"{\"id\":\"1\",\"f\":{\"role\":1}}",
         "Enum \"Role\" cannot represent non-string value: 1."},
        {"{\"id\":\"1\",\"f\":{\"age\":3}}",
         "Variable \"$f\" got invalid value {\"age\":3}; Field \"age\" is not defined by type "
         "\"UserFilter\"."},
        {"{\"id\":\"1\",\"f\":\"x\"}", "Expected type \"UserFilter\" to be an object."},
        {"{\"id\":\"1\",\"n\":1.5}", "Int cannot represent non-integer value: 1.5"},
        {"{\"id\":\"1\",\"n\":3000000000}",
         "Int cannot represent non 32-bit signed integer value: 3000000000"},
        {"{\"id\":\"1\",\"x\":\"2\"}", "Float cannot represent non numeric value: \"2\""},
        {"{\"id\":\"1\",\"f\":{\"names\":[1]}}",
         "at \"f.names[0]\"; String cannot represent a non string value: 1"},
        {"{\"id\":\"1\",\"roles\":[\"ADMIN\",null]}",
         "at \"roles[1]\"; Expected non-nullable type \"Role!\" not to be null."},
        {"{\"id\":\"1\",\"ok\":\"yes\"}", "Boolean cannot represent a non boolean value: \"yes\""},
        {"{\"id\":\"1\",\"r\":{\"id\":\"1\"}}",
         "Field \"name\" of required type \"String!\" was not provided."},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *out = NULL;
        char *got = coerce(VARS_DOC, cases[i].vars, &out);
        cr_assert_not_null(strstr(got, cases[i].error), "%s:\nwant %s\ngot  %s", cases[i].vars,
                           cases[i].error, got);
        cr_assert_not_null(out);
        cJSON_Delete(out);
        free(got);
    }
}

Test(graphql_rules, arguments_take_variables_and_defaults)
{
    static const char text[] =
        "query Q($n: Int, $names: [String!]) { users(filter: {role: ADMIN, names: $names}, "
        "first: $n) { id } }";
    struct graphql_document doc;
    cr_assert_eq(graphql_document_parse(&doc, text, strlen(text)), RH_OK);
    const struct graphql_selection *users = &doc.operations[0].selections->items[0];
    const struct graphql_field *def = graphql_schema_field_find(&schema, schema.query, users->name);
    cJSON *vars = cJSON_Parse("{\"n\":2,\"names\":[\"a\"]}");
    cJSON *args = graphql_arguments_eval(&schema, def->args, def->arg_count, users->args,
                                         users->arg_count, vars);
    char *got = cJSON_PrintUnformatted(args);
    cr_assert_str_eq(got, "{\"filter\":{\"limit\":5,\"names\":[\"a\"],\"role\":\"ADMIN\"},"
                          "\"first\":2}");
    cJSON_free(got);
    cJSON_Delete(args);
    /* Without the variables: the argument's default, and no names. */
    args = graphql_arguments_eval(&schema, def->args, def->arg_count, users->args, users->arg_count,
                                  NULL);
    got = cJSON_PrintUnformatted(args);
    cr_assert_str_eq(got, "{\"filter\":{\"limit\":5,\"role\":\"ADMIN\"},\"first\":10}");
    cJSON_free(got);
    cJSON_Delete(args);
    cJSON_Delete(vars);
    graphql_document_cleanup(&doc);
}

Test(graphql, schema_load_refuses_what_is_not_an_introspection_answer)
{
    static const char *const bad[] = {
        "{}",
        "{\"types\":[{\"kind\":\"OBJECT\"}]}",
        "{\"types\":[{\"kind\":\"THING\",\"name\":\"X\"}]}",
        "{\"types\":[{\"kind\":\"OBJECT\",\"name\":\"X\",\"fields\":[{\"name\":\"a\"}]}]}",
        "{\"types\":[{\"kind\":\"INPUT_OBJECT\",\"name\":\"X\",\"inputFields\":[{\"name\":\"a\","
        "\"type\":{\"kind\":\"SCALAR\",\"name\":\"Int\"},\"defaultValue\":\"{\"}]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct graphql_schema s;
        char err[256] = "";
        cJSON *json = cJSON_Parse(bad[i]);
        cr_assert_eq(graphql_schema_load(&s, json, err, sizeof(err)), RH_INVALID, "%s", bad[i]);
        cr_assert_not_null(strstr(err, "the introspection answer has"), "%s", err);
        graphql_schema_cleanup(&s);
        cJSON_Delete(json);
    }
}

/* ---- the embedded documents against Railway's schema ---- */

/* The __schema of an introspection file, loaded into s; the parsed file is returned (delete
 * it after s). */
static cJSON *railway_schema_load(const char *path, struct graphql_schema *s)
{
    size_t len = 0;
    char *text = th_read_file(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    char err[256] = "";
    free(text);
    cr_assert_not_null(root, "%s is not JSON", path);
    cJSON *intro = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "data"), "__schema");
    cr_assert_eq(graphql_schema_load(s, intro, err, sizeof(err)), RH_OK, "%s: %s", path, err);
    return root;
}

struct op_check {
    const struct graphql_schema *s;
    int documents;
};

static void on_op(void *ud, const char *file, const char *op, const char *text)
{
    struct op_check *c = ud;
    struct graphql_document doc;
    cJSON *errors = cJSON_CreateArray(), *warnings = cJSON_CreateArray();
    cr_assert_eq(graphql_document_parse(&doc, text, strlen(text)), RH_OK, "%s:%d:%d: %s", file,
                 doc.error_line, doc.error_column, doc.error);
    cr_assert_eq(doc.operation_count, 1, "%s: one operation per document", file);
    cr_assert_str_eq(doc.operations[0].name ? doc.operations[0].name : "", op, "%s", file);
    graphql_document_validate(c->s, &doc, errors, warnings);
    char *e = cJSON_PrintUnformatted(errors), *w = cJSON_PrintUnformatted(warnings);
    cr_assert_eq(cJSON_GetArraySize(errors), 0, "%s: %s", file, e);
    cr_assert_eq(cJSON_GetArraySize(warnings), 0, "%s: %s", file, w);
    cJSON_free(e);
    cJSON_free(w);
    cJSON_Delete(errors);
    cJSON_Delete(warnings);
    graphql_document_cleanup(&doc);
    c->documents++;
}

/* The document railhook once sent: serviceId inside the input, no id, no selection. */
static void known_bad_is_rejected(const struct graphql_schema *s)
{
    int n = 0;
    char *got = validate(s,
                         "mutation ServiceConnect($serviceId: String!, $repo: String!) {\n"
                         "  serviceConnect(input: {serviceId: $serviceId, repo: $repo})\n}\n",
                         &n, NULL);
    cr_assert_not_null(
        strstr(got, "Field \"serviceId\" is not defined by type \"ServiceConnectInput\"."), "%s",
        got);
    cr_assert_not_null(strstr(got, "Field \"serviceConnect\" argument \"id\" of type \"String!\" "
                                   "is required, but it was not provided."),
                       "%s", got);
    cr_assert_not_null(strstr(got, "must have a selection of subfields"), "%s", got);
    free(got);
}

Test(graphql, embedded_documents_validate_against_railway_s_schema)
{
    char *snapshot = xasprintf("%s/railway/schema/railway-schema.json", RAILHOOK_SOURCE_DIR);
    char *shared = xasprintf("%s/../shared/railway/railway-public-schema.introspection.json",
                             RAILHOOK_SOURCE_DIR);
    /* The committed snapshot always; the full introspection too when it is beside the checkout. */
    const char *paths[] = {snapshot, access(shared, R_OK) == 0 ? shared : NULL};
    for (size_t i = 0; i < 2 && paths[i]; i++) {
        struct graphql_schema s;
        cJSON *root = railway_schema_load(paths[i], &s);
        struct op_check c = {.s = &s};
        railway_op_each(on_op, &c);
        cr_assert_geq(c.documents, 20, "%s", paths[i]);
        known_bad_is_rejected(&s);
        graphql_schema_cleanup(&s);
        cJSON_Delete(root);
    }
    free(snapshot);
    free(shared);
}

Test(graphql, the_watchers_expanded_document_validates_against_railway_s_schema)
{
    char *snapshot = xasprintf("%s/railway/schema/railway-schema.json", RAILHOOK_SOURCE_DIR);
    struct graphql_schema s;
    cJSON *root = railway_schema_load(snapshot, &s);
    const int sizes[] = {1, 2, 50};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *text = railway_op_expand(RAILWAY_OP_DEPLOYMENTS_WATCH, sizes[i]);
        cr_assert_not_null(text);
        struct op_check c = {.s = &s};
        on_op(&c, "deployments_watch.graphql (expanded)", "DeploymentsWatch", text);
        char *last = xasprintf("d%d: deployment(id: $d%d)", sizes[i] - 1, sizes[i] - 1);
        cr_assert_not_null(strstr(text, last), "%s", text);
        char *past = xasprintf("$d%d", sizes[i]);
        cr_assert_null(strstr(text, past), "%s", text);
        free(past);
        free(last);
        free(text);
    }
    /* A document without the d0 shape has no expansion. */
    cr_assert_null(railway_op_expand(RAILWAY_OP_DEPLOYMENT, 2));
    cr_assert_null(railway_op_expand(RAILWAY_OP_DEPLOYMENTS_WATCH, 0));
    graphql_schema_cleanup(&s);
    cJSON_Delete(root);
    free(snapshot);
}

Test(graphql, snapshot_holds_names_and_types_only)
{
    char *path = xasprintf("%s/railway/schema/railway-schema.json", RAILHOOK_SOURCE_DIR);
    size_t len = 0;
    char *text = th_read_file(path, &len);
    cr_assert_null(strstr(text, "\"description\":"));
    cr_assert_null(strstr(text, "\"deprecationReason\":"));
    struct graphql_schema s;
    cJSON *root = railway_schema_load(path, &s);
    cr_assert_str_eq(s.query->name, "Query");
    cr_assert_str_eq(s.mutation->name, "Mutation");
    cr_assert_gt(s.type_count, 500);
    const struct graphql_schema_type *input = graphql_schema_type_find(&s, "ServiceConnectInput");
    cr_assert_not_null(input);
    cr_assert_eq(input->kind, GRAPHQL_KIND_INPUT_OBJECT);
    cr_assert_not_null(
        graphql_input_value_find(input->input_fields, input->input_field_count, "repo"));
    graphql_schema_cleanup(&s);
    cJSON_Delete(root);
    free(text);
    free(path);
}
