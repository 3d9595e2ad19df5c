#pragma once
#include "el3d/el3_client.h"
