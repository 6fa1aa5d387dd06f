// Original file: proto/jukebox/v1/worker.proto


export interface DescribeRequest {
}

export interface DescribeRequest__Output {
}
