# Prints the declarations of a mqlite.h that every later header must
# repeat compatibly: the MQLITE_* constants (the version ones excepted),
# the typedefs other than struct bodies (checked by layout.c instead) and
# the function prototypes. run.sh compiles them after the current header
# as C11, where repeating a typedef or a prototype is allowed only if it
# is the same type, and a macro only with the same value.
/^\/\*/ { comment = 1 }
comment { if (/\*\//) comment = 0; next }
/^#define MQLITE_VERSION/ || /^#define MQLITE_H$/ { next }
/^#define MQLITE_/ { print; next }
/^#/ { next }
/^typedef struct [a-z_0-9]+ \{/ { body = 1; next }
body { if (/^\}/) body = 0; next }
statement || /^(typedef|const|struct|mqlite_|size_t|bool|void|int|uint)/ {
    statement = 1
    print
    if (/;/) statement = 0
}
