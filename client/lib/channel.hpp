#pragma once
// The gRPC channel settings of el3client's sessions. A header of its own so that el3d_bench's bare echo
// client uses exactly the same ones: the comparison then measures el3d and the shim, not a setting.
#include <grpcpp/grpcpp.h>

namespace el3d::client {

inline grpc::ChannelArguments session_channel_arguments()
{
	grpc::ChannelArguments args;
	args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
	args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);              // nothing to retry on a local socket
	args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);               // no per-call filters we do not use
	args.SetMaxReceiveMessageSize(8 << 20);
	return args;
}

}  // namespace el3d::client
