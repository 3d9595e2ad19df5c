// RMM_EL3_FEATURES, FID 0xC40001B4.
//
//   Inputs   x1  feature register index; only 0 is defined
//   Outputs  x0  E_RMM_OK or E_RMM_INVAL
//            x1  the feature register; bit 0 = RMM_EL3_TOKEN_SIGN available. On failure the
//                caller's x2, as TF-A leaves it
#include "../monitor_impl.hpp"

#include "el3d/smc.h"

namespace el3d {

void handle_el3_features(Monitor::Impl& m, SmcContext& c)
{
	if (c.x(1) != 0)
		return c.ret(EL3_E_RMM_INVAL, c.x(2));
	c.ret(EL3_E_RMM_OK, m.options.token_sign ? 1u : 0u);
}

}  // namespace el3d
