// CBLAS: the system OpenBLAS, seen through its C interface. Nothing else lives here.
#include <cblas.h>
// OpenBLAS's own extension: keep its threads from fighting our pool.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
